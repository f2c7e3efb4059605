"""Recipe-experiment options of the generator and `hanzi-bot train` (tools/ablation.py): off by
default, so the shipped recipe's data and caches stay exactly as they were."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from recognition.training import dataset
from recognition.training.dataset import Arrays, Recipe, build, clear_flat_negatives
from recognition.training.photo import PhotoOptions, photograph
from recognition.training.strokes import HSK1_STROKES, StrokeData
from recognition.training.synth import (
    STYLES,
    Generator,
    HandOptions,
    find_cjk_fonts,
    split_fonts,
)
from recognition.training.train import (
    SHIPPED_PHOTO,
    SHIPPED_STYLES,
    TrainConfig,
    parse_args,
    parse_options,
)
from tests.recognition.photos import scan_with_a_pale_stroke


@pytest.fixture(scope="module")
def hsk1() -> StrokeData:
    return StrokeData(HSK1_STROKES)


def ink(img: np.ndarray) -> int:
    return int((255 - img.astype(np.int64)).sum())


def test_default_hand_options_draw_the_very_same_samples(hsk1: StrokeData) -> None:
    plain = Generator(hsk1, (), seed=3, size=64)
    explicit = Generator(hsk1, (), seed=3, size=64, hand_options=HandOptions())
    for i, ch in enumerate("我们四六"):
        a = plain.render_char(ch, plain.rng_for(1, i), style="pen").image
        b = explicit.render_char(ch, explicit.rng_for(1, i), style="pen").image
        assert np.array_equal(a, b)


def test_a_thinner_pen_leaves_less_ink(hsk1: StrokeData) -> None:
    plain = Generator(hsk1, (), seed=3, size=64)
    thin = Generator(hsk1, (), seed=3, size=64, hand_options=HandOptions(pen=0.02, pen_min=0.01))
    chars = "我们四六学生"
    total = [
        sum(ink(g.render_char(c, g.rng_for(2, i), style="pen").image) for i, c in enumerate(chars))
        for g in (plain, thin)
    ]
    assert total[1] < 0.8 * total[0]


def test_lowres_is_off_by_default_and_softens_when_on(hsk1: StrokeData) -> None:
    img = Generator(hsk1, (), seed=3, size=64).render_char("四", np.random.default_rng(0)).image
    default = photograph(img, np.random.default_rng(5))
    same = photograph(img, np.random.default_rng(5), options=PhotoOptions(lowres=0.0))
    assert np.array_equal(default, same)
    blur_free = PhotoOptions(blur=0, motion_blur=0, noise=0, jpeg=0, perspective=0)
    sharp = photograph(img, np.random.default_rng(5), options=blur_free, grid="none")
    soft_opts = PhotoOptions(
        blur=0, motion_blur=0, noise=0, jpeg=0, perspective=0, lowres=1.0, lowres_side=(20, 20)
    )
    soft = photograph(img, np.random.default_rng(5), options=soft_opts, grid="none")
    assert soft.shape == sharp.shape
    # Fewer pixels between paper and ink: the edges are no longer crisp.
    edges = [float(np.abs(np.diff(x.astype(np.float32), axis=1)).max()) for x in (sharp, soft)]
    assert edges[1] < edges[0]


def test_the_shipped_recipe_keeps_its_cache_key(tmp_path: Path) -> None:
    assert Recipe().key() == []
    assert Recipe(hand=HandOptions(), photo=PhotoOptions()).key() == []
    assert Recipe(photo=PhotoOptions(lowres=0.5)).key() != []

    def cached(recipe: Recipe | None) -> int:
        build(
            "一二",
            n_per_class=2,
            incomplete_per_class=0,
            unknown=2,
            seed=1,
            split="train",
            size=32,
            workers=1,
            cache_dir=tmp_path,
            progress=False,
            recipe=recipe,
        )
        return len(list(tmp_path.glob("*.npz")))

    assert cached(None) == 1
    assert cached(Recipe(hand=HandOptions())) == 1  # the same file: the same key
    assert cached(Recipe(hand=HandOptions(pen=0.02))) == 2
    assert cached(Recipe(guard_strokes=True)) == 3  # other data: another file


def test_installing_a_font_does_not_reuse_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = find_cjk_fonts()
    if len({f.group for f in installed}) < 2:
        pytest.skip("needs two CJK font packages (apt: fonts-arphic-ukai fonts-wqy-zenhei)")
    args = dict(n_per_class=1, incomplete_per_class=0, unknown=1, seed=1, split="train")
    common = dict(size=32, workers=1, cache_dir=tmp_path, progress=False)
    build("一", **args, **common)  # type: ignore[arg-type]
    build("一", **args, **common)  # type: ignore[arg-type]
    assert len(list(tmp_path.glob("*.npz"))) == 1
    # Remove a font the training split draws from (the held-out one would not change it).
    gone = split_fonts(installed).train[0].group
    fewer = tuple(f for f in installed if f.group != gone)
    monkeypatch.setattr(dataset, "find_cjk_fonts", lambda: fewer)
    build("一", **args, **common)  # type: ignore[arg-type]
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_flat_negatives_are_cleared_and_flat_characters_kept() -> None:
    x = np.zeros((4, 48, 48), np.uint8)
    x[0, 22:26, 4:44] = 255  # a flat mark labelled unknown: what 一 looks like
    x[1, 22:26, 4:44] = 255  # the same, labelled 一
    x[2, 10:38, 10:38] = 255  # an unknown blob: kept
    classes = ("一", "二", "unknown")
    labels = np.array([2, 0, 2, 2], np.int32)
    before = Arrays(x, labels, np.zeros(4, np.uint8), np.array([0, 0, 0, 1], np.uint8), classes)
    after = clear_flat_negatives(before)
    assert not after.x[0].any() and after.blank[0] == 1
    assert np.array_equal(after.x[1:], x[1:]) and list(after.blank[1:]) == [0, 0, 1]
    assert np.array_equal(after.labels, labels)
    assert x[0].any()  # the input is not changed in place


def test_train_options_parse_to_typed_fields_and_default_to_the_shipped_recipe() -> None:
    assert parse_options("pen=0.03,pen-spread=0.4", HandOptions) == (
        ("pen", 0.03),
        ("pen_spread", 0.4),
    )
    assert parse_options("lowres=0.5,lowres_side=20:40", PhotoOptions) == (
        ("lowres", 0.5),
        ("lowres_side", (20, 40)),
    )
    with pytest.raises(SystemExit):
        parse_options("nib=3", HandOptions)
    cfg = parse_args([])
    default = TrainConfig(out=cfg.out, work=cfg.work, workers=cfg.workers)
    assert cfg == default  # the command line's defaults are the config's: the shipped recipe
    assert (cfg.hand, cfg.photo, cfg.styles) == ((), SHIPPED_PHOTO, SHIPPED_STYLES)
    assert (cfg.label_smoothing, cfg.incomplete_weight, cfg.incomplete_head) == (0.1, 0.5, "class")
    # The shipped mix and photos name themselves in the cache key; the generator's own (the
    # validation and test splits') do not, so those caches are shared by every recipe.
    assert cfg.recipe().photo == PhotoOptions(lowres=0.5)
    shipped_photo = ["photo", asdict(PhotoOptions(lowres=0.5))]
    assert cfg.recipe().key() == [shipped_photo, ["styles", list(SHIPPED_STYLES)]]
    assert SHIPPED_STYLES != STYLES
    assert parse_args(["--styles", "", "--photo", "lowres=0"]).recipe().key() == []
    # --photo options go on top of the shipped ones: the rest of them stay.
    nogrid = parse_args(["--photo", "grid=0"]).recipe().photo
    assert nogrid == PhotoOptions(grid=0.0, lowres=0.5)
    cfg = parse_args(["--hand", "elastic=2", "--styles", "0.5,0.2,0.3", "--label-smoothing", "0"])
    assert cfg.recipe().hand == HandOptions(elastic=2.0)
    assert cfg.styles == (0.5, 0.2, 0.3) and cfg.label_smoothing == 0.0


def test_training_data_is_prepared_without_the_stroke_guard() -> None:
    """The training split keeps the ruled-line removal of data cache version 4 (trained
    better; model card): a long pale stroke of a picture cropped to its character goes
    there, while the photos the bot reads keep it."""
    img = np.asarray(scan_with_a_pale_stroke(margin=0))  # cropped to the writing
    x, blank = dataset.prepare_all(img[None], 48)

    assert not blank[0]
    unguarded = dataset.prepare(img, 48, guard_strokes=False)
    assert unguarded.grid_lines >= 1
    assert np.array_equal(x[0], np.round(unguarded.image * 255).astype(np.uint8))
    guarded = dataset.prepare(img, 48)
    assert guarded.grid_lines == 0
    # The recipe experiment `hanzi-bot train --guard-strokes` prepares it as photos are.
    x, _ = dataset.prepare_all(img[None], 48, guard_strokes=True)
    assert np.array_equal(x[0], np.round(guarded.image * 255).astype(np.uint8))
    assert parse_args(["--out", "o", "--guard-strokes"]).recipe().guard_strokes
    assert not parse_args(["--out", "o"]).recipe().guard_strokes
