"""The character model at run time: OpenVINO inference, templates, thresholds, verdicts."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from recognition.modelstore import model_version
from recognition.preprocess import (
    WORK_SIDE,
    Gray,
    Ink,
    NoInk,
    Prepared,
    decode,
    prepare,
    raise_ink,
    shrink,
    split_word,
)
from recognition.runtime import CompiledModel, ModelLoadError
from recognition.verifier import (
    Decision,
    Outcome,
    Scores,
    Thresholds,
    Vector,
    combine,
    decide,
    top_k,
)

if TYPE_CHECKING:
    from recognition.ppocr import PPOCRRecognizer

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "models" / "char"


class SecondOpinion(Protocol):
    """A second classifier: per image, each charset character's probability
    (``recognition.ppocr.PPOCRRecognizer`` is one); with ``other``, one more column: its
    probability that the image is a character outside the charset."""

    def char_probabilities(
        self, images: Sequence[Gray], charset: str, *, other: bool = False
    ) -> npt.NDArray[np.float32]: ...


def _as_paper(ink: Ink) -> Gray:
    """A prepared ink image as dark writing on white paper."""
    return np.round(255 * (1 - np.clip(ink, 0, 1))).astype(np.uint8)


def reader_input(name: str, paper: Gray, ink: Ink) -> Gray:
    """What a second-opinion reader is shown for ``name`` of ``READER_INPUTS``: the
    character's photo (``paper``), or its prepared ink (the usual crop of a stack of
    framings) drawn on white."""
    if name == "photo":
        return paper
    return _as_paper(ink if ink.ndim == 2 else ink[0])


def reader_inputs(inputs: Sequence[str], papers: Sequence[Gray], inks: Sequence[Ink]) -> list[Gray]:
    """Every character as each of ``inputs`` shows it, input after input (one batch)."""
    return [
        reader_input(name, pa, ink) for name in inputs for pa, ink in zip(papers, inks, strict=True)
    ]


def reader_probabilities(
    second: SecondOpinion,
    inputs: Sequence[str],
    papers: Sequence[Gray],
    inks: Sequence[Ink],
    charset: str,
    *,
    other: bool = False,
) -> npt.NDArray[np.float32]:
    """The second opinion on each character (its photo in ``papers``, its prepared ink in
    ``inks``), shown every one of ``inputs``: the mean over the inputs, (N, len(charset)),
    with ``other`` (N, len(charset) + 1) (``SecondOpinion``)."""
    shown = reader_inputs(inputs, papers, inks)
    # One call for every input, so the readers batch them together; then the mean.
    each = second.char_probabilities(shown, charset, other=other)
    out: npt.NDArray[np.float32] = each.reshape(len(inputs), len(papers), -1).mean(axis=0)
    return out


@dataclass(frozen=True, slots=True)
class Job:
    """One photo to judge: its bytes and the character or word asked for (empty: classify)."""

    image: bytes
    target: str = ""


class Panel:
    """Several second opinions as one: per character, the geometric mean of their
    probabilities (a character needs every reader's support, not one reader's hunch)."""

    def __init__(self, members: Sequence[SecondOpinion]) -> None:
        if not members:
            raise ValueError("a panel needs at least one reader")
        self.members = tuple(members)
        from recognition.ppocr import PPOCRRecognizer

        # PaddleOCR readers take the same input: it is prepared once, not once per reader.
        self._paddle = all(isinstance(m, PPOCRRecognizer) for m in self.members)

    def prepare(self, images: Sequence[Gray]) -> list[Any]:
        """What every member reads of ``images``: made once, read by any of them."""
        if not self._paddle:
            return list(images)
        from recognition.ppocr import char_tensor

        return [char_tensor(im) for im in images]

    def member_probabilities(
        self, k: int, prepared: Sequence[Any], charset: str, *, other: bool = False
    ) -> npt.NDArray[np.float32]:
        """Member ``k``'s probabilities for ``prepare``'s output, (N, len(charset)), with
        ``other`` one more column (``SecondOpinion``)."""
        member = self.members[k]
        if self._paddle:
            from recognition.ppocr import PPOCRRecognizer

            assert isinstance(member, PPOCRRecognizer)
            return member.tensor_probabilities(prepared, charset, other=other)
        return member.char_probabilities(prepared, charset, other=other)

    @staticmethod
    def combine(each: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        """The members' probabilities as one: their geometric mean."""
        logs = [np.log(np.clip(q, 1e-12, 1.0)) for q in each]
        out: npt.NDArray[np.float32] = np.exp(np.mean(logs, axis=0)).astype(np.float32)
        return out

    def char_probabilities(
        self, images: Sequence[Gray], charset: str, *, other: bool = False
    ) -> npt.NDArray[np.float32]:
        prepared = self.prepare(images)
        return self.combine(
            [
                self.member_probabilities(k, prepared, charset, other=other)
                for k in range(len(self.members))
            ]
        )


# The recognizer that was the only second opinion before model.json named its readers.
DEFAULT_READERS = ("ppocr",)
# What the readers may be shown: the photo as sent (gray, dark on light), and the ink our
# preprocessing cut out of it (grid lines, light and specks gone), drawn on white.
READER_INPUTS = ("photo", "ink")


# Our model's batch sizes warmed at start (CharModel.warm_up): the bot's batches of up to 32
# photos, most of them one character each, and the framings of the unsure ones.
WARM_CHARACTERS = 64

# The first reader settles a character (Fusion.settled) only when it gives "another
# character" at most this, and on the score before that lowers it. Settling on the lowered
# score left small to read 83% (fast) / 67% (thorough) of the doubtful characters, against
# 73% / 51% before "another character" existed (+2.7 ms a real photo); this rule, 77% / 57%.
# Every figure of the calibration split is the same with a bound of 0.03, 0.1 or 0.3.
SETTLED_OTHER = 0.1


@dataclass(frozen=True, slots=True)
class Fusion:
    """How the second opinion (PaddleOCR line recognizers) joins in, from ``model.json``.

    Our model answers alone when its best character has at least ``cascade``
    probability. Otherwise both opinions are combined per character as a weighted
    geometric mean of our probability (renormalised over the characters; ``weight``) and
    the second opinion's probability for that character (the rest); how sure either is
    that this is an HSK 1 character at all is the largest combined score over
    ``known_scale`` (capped at 1). ``readers`` are the recognizers that give the second
    opinion, as folders of the models directory (beside the character model's); several
    are one ``Panel``. ``inputs`` are what they read (``READER_INPUTS``); with both, their
    probabilities are averaged.

    With ``settle``, a panel's readers are asked in stages: the first alone, and when our
    scores fused with its reading give some character at least ``settle``, that is the
    answer; only the characters it leaves unsettled are read by the others as well (the
    first is the cheapest: PP-OCRv6 tiny, a quarter of small's time).

    With ``other`` (a power above 0) the readers also say how sure they are that the
    writing is a Chinese character outside the charset (千 when 十 is asked), and every
    character's fused score is multiplied by one minus that, to the power ``other``: the
    readers know thousands of characters, and one of them read plainly is evidence against
    all of ours that the renormalisation over our charset would otherwise hide.
    """

    cascade: float = 0.8
    known_scale: float = 0.1
    readers: tuple[str, ...] = DEFAULT_READERS
    weight: float = 0.5
    inputs: tuple[str, ...] = ("photo",)
    settle: float | None = None
    other: float = 0.0

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Fusion:
        readers = tuple(str(r) for r in meta.get("readers", DEFAULT_READERS))
        if not readers:
            raise ModelLoadError("model.json: fusion.readers is empty")
        inputs = tuple(str(i) for i in meta.get("inputs", ("photo",)))
        if not inputs or any(i not in READER_INPUTS for i in inputs):
            raise ModelLoadError(f"model.json: fusion.inputs must be some of {READER_INPUTS}")
        weight = float(meta.get("weight", 0.5))
        if not 0.0 < weight < 1.0:
            raise ModelLoadError("model.json: fusion.weight must be between 0 and 1")
        settle = meta.get("settle")
        if settle is not None and not 0.0 < float(settle) <= 1.0:
            raise ModelLoadError("model.json: fusion.settle must be above 0 and at most 1")
        other = float(meta.get("other", 0.0))
        if not 0.0 <= other <= 16.0:
            raise ModelLoadError("model.json: fusion.other must be from 0 to 16")
        return cls(
            float(meta["cascade"]),
            float(meta["known_scale"]),
            readers,
            weight,
            inputs,
            None if settle is None else float(settle),
            other,
        )

    def as_meta(self) -> dict[str, Any]:
        return (
            {
                "cascade": self.cascade,
                "known_scale": self.known_scale,
                "readers": list(self.readers),
                "weight": self.weight,
                "inputs": list(self.inputs),
            }
            | ({} if self.settle is None else {"settle": self.settle})
            | ({"other": self.other} if self.other > 0 else {})
        )

    @property
    def asks_other(self) -> bool:
        """Whether the readers are asked for their "another character" column."""
        return self.other > 0

    def combine(self, ours: Vector, theirs: Vector) -> Vector:
        """Our scores (charset then "unknown") fused with the readers' (``theirs``: the
        charset, then, when ``other`` is set, their "another character" probability)."""
        n = len(ours) - 1
        return self._doubted(fuse(ours, theirs[:n], self.known_scale, self.weight), theirs)

    def _doubted(self, fused: Vector, theirs: Vector) -> Vector:
        """``fused`` (changed in place) with every character lowered by the readers'
        "another character" (the last of ``theirs``), when ``other`` is set."""
        if self.other <= 0:
            return fused
        n = len(fused) - 1
        doubt = (1.0 - min(max(float(theirs[n]), 0.0), 1.0)) ** self.other
        fused[:n] *= np.float32(doubt)
        fused[n] = 1.0 - float(fused[:n].sum())
        return fused

    def unsure(self, ours: Vector, n_chars: int) -> bool:
        """Whether our model's scores (charset then "unknown") need the second opinion."""
        return float(ours[:n_chars].max()) < self.cascade

    def settled(self, ours: Vector, first: Vector, n_chars: int) -> Vector | None:
        """Our scores fused with the first reader's alone, when that settles the character
        (some character at least ``settle`` before "another character" lowers it, and that
        at most ``SETTLED_OTHER``); else None: every reader is needed."""
        if self.settle is None:
            return None
        if self.other > 0 and float(first[n_chars]) > SETTLED_OTHER:
            return None
        plain = fuse(ours, first[:n_chars], self.known_scale, self.weight)
        if float(plain[:n_chars].max()) < self.settle:
            return None
        return self._doubted(plain, first)


def fuse(ours: Vector, theirs: Vector, known_scale: float, weight: float = 0.5) -> Vector:
    """One distribution over the charset plus "unknown" from both opinions; ``weight`` is
    our model's share of the geometric mean (a half: the plain geometric mean)."""
    n = len(theirs)
    chars = ours[:n] / max(float(ours[:n].sum()), 1e-9)
    joint = chars**weight * np.clip(theirs, 0.0, 1.0) ** (1.0 - weight)
    known = min(1.0, float(joint.max()) / known_scale)
    out = np.empty(n + 1, dtype=np.float32)
    out[:n] = known * joint / max(float(joint.sum()), 1e-9)
    out[n] = 1.0 - known
    return out


@dataclass(slots=True)
class Tally:
    """What the second opinion cost so far: characters read, how many were doubtful (the
    readers were asked), and how many of those every reader read (not settled by the
    first). For benchmarks and logs; counts, not timings. Safe to add to from the
    service's worker threads."""

    characters: int = 0
    doubtful: int = 0
    all_readers: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, characters: int = 0, doubtful: int = 0, all_readers: int = 0) -> None:
        with self._lock:
            self.characters += characters
            self.doubtful += doubtful
            self.all_readers += all_readers

    def line(self) -> str:
        """One line of the shares, as the benchmark prints it."""
        c = max(self.characters, 1)
        return (
            f"{self.characters} characters, {100 * self.doubtful / c:.1f}% doubtful (the "
            f"readers asked), {100 * self.all_readers / c:.1f}% read by every reader"
        )


def staged_fusion(
    panel: Panel,
    fusion: Fusion,
    ours: Sequence[Vector],
    papers: Sequence[Gray],
    inks: Sequence[Ink],
    charset: str,
    tally: Tally | None = None,
) -> list[Vector]:
    """Our scores of doubtful characters fused with the panel's readings, asked in stages
    (``Fusion.settle``): the first reader reads every character, the others only those
    it leaves unsettled. Each input is prepared once for all readers."""
    k, m, n = len(fusion.inputs), len(papers), len(charset)
    prepared = panel.prepare(reader_inputs(fusion.inputs, papers, inks))
    other = fusion.asks_other
    first = panel.member_probabilities(0, prepared, charset, other=other)
    alone = first.reshape(k, m, -1).mean(axis=0)
    settled = [fusion.settled(o, a, n) for o, a in zip(ours, alone, strict=True)]
    rest = [i for i, done in enumerate(settled) if done is None]
    if tally is not None:
        tally.add(all_readers=len(rest))
    if not rest:
        return [done for done in settled if done is not None]
    rows = [j * m + i for j in range(k) for i in rest]
    sub = [prepared[r] for r in rows]
    each = [first[rows]] + [
        panel.member_probabilities(t, sub, charset, other=other)
        for t in range(1, len(panel.members))
    ]
    theirs = panel.combine(each).reshape(k, len(rest), -1).mean(axis=0)
    by_all = {i: fusion.combine(ours[i], theirs[row]) for row, i in enumerate(rest)}
    return [by_all[i] if done is None else done for i, done in enumerate(settled)]


@dataclass(frozen=True, slots=True)
class Views:
    """More framings of a character, from ``model.json`` ``views``.

    A character whose best class has less than ``below`` probability in the usual crop is
    read again cropped at each of ``margins`` as well, and its scores become the mean over
    all crops: where the ink's box happens to end shifts a doubtful answer, not a sure one.
    """

    margins: tuple[float, ...] = ()
    below: float = 0.7

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Views:
        return cls(tuple(float(m) for m in meta.get("margins", ())), float(meta.get("below", 0.7)))

    def as_meta(self) -> dict[str, Any]:
        return {"margins": list(self.margins), "below": self.below}


# Rows of one of the model's outputs, one per image.
Outputs = npt.NDArray[np.float32]


class Pieces(NamedTuple):
    """A job prepared: its character images and what the second opinion looks at, or the
    verdict that ends it without reading (no ink, not an image); ``unless_correct``: the
    verdict to give unless the reading is "correct" (the picture looks like several
    characters, but a wide character written in parts, 八 or 北, looks like that too);
    ``line``: a wide or tall picture in parts, cut to a square round its ink (a tall one
    turned a quarter), for the readers to say whether it is several characters written in
    a row or a column (``judge``); ``whole``: a word's photo (a column turned a quarter),
    for the readers to read as a line when its characters one by one are not the word."""

    images: list[Ink]
    papers: list[Gray]
    early: Decision | None = None
    unless_correct: Decision | None = None
    line: Gray | None = None
    whole: Gray | None = None


# The margin around the ink's box that the model was trained with.
MARGIN = 0.08

# Ink whose box is under this share of a small picture's side is "too small" (a phone
# photo's limit is ``Thresholds.min_ink_side`` at working size, 12 px of 256).
SMALL_SCAN_INK = 0.07

# The verdict for a picture of several characters when one is asked (a word in a row or
# a column): ``prepare_job``'s aspect rule and ``CharModel.judge``'s reading both give it.
SEVERAL = Decision(Outcome.UNCLEAR, reason="several characters")

# A picture over this many times as wide as tall (or as tall as wide), in parts apart at
# empty columns (rows), may be several characters in a row (a column): the readers read it
# (``prepare_job``), in a square this much larger than its ink on every side.
LINE_ASPECT = 1.5
LINE_PAD = 0.25


def _square_round(paper: Gray, box: tuple[int, int, int, int]) -> Gray:
    """The square of ``paper`` round the ink's ``box``, ``LINE_PAD`` of its longer side more
    on every side (cut off at the paper's edges). Cut to the ink alone, the readers read
    a 零 as 雨 and 令 (13 of the real sample's tall characters); in the square, as one."""
    x0, y0, x1, y1 = box
    half = round((0.5 + LINE_PAD) * max(x1 - x0, y1 - y0))
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    return paper[max(0, cy - half) : cy + half, max(0, cx - half) : cx + half]


def _paper(gray: Gray, inverted: bool) -> Gray:
    """The photo as the readers see it: dark writing on light, at working size."""
    return shrink((255 - gray).astype(np.uint8) if inverted else gray, WORK_SIDE)


def prepare_job(
    job: Job, size: int, th: Thresholds, charset: str, extra: tuple[float, ...] = ()
) -> Pieces:
    """The character images of one job (with ``extra`` margins: each a stack of views),
    what the second opinion should look at for each, or the decision that ends the job
    early. A plain function of plain values, so worker processes can run it."""
    target = job.target
    if target and any(c not in charset for c in target):
        invalid = Decision(Outcome.INVALID_TARGET, reason="target not in the character set")
        return Pieces([], [], invalid)
    try:
        gray = decode(job.image)
        if len(target) > 1:
            word = split_word(gray, len(target), size, margins=(MARGIN, *extra))
            # The readers read each character from its strip of the photo, as a single
            # character from the whole photo (``paper`` below).
            paper = _paper(gray, word.inverted)
            whole = np.ascontiguousarray(np.rot90(paper)) if word.vertical else paper
            return Pieces(word.pieces, word.strips(paper), whole=whole)
        prepared: Prepared = prepare(gray, size, margin=MARGIN, margins=extra)
    except NoInk:
        return Pieces([], [], Decision(Outcome.UNCLEAR, reason="no ink"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning):
        # Warning: decode turns PIL's decompression-bomb warning into an error.
        return Pieces([], [], Decision(Outcome.UNCLEAR, reason="not a readable image"))
    # Too small for a phone photo is a few percent of it; a small scan (64 px) is
    # all character, and its ink is a handful of pixels by nature (a 一 written short in
    # a 64 px scan is a dash of 5-6 px, and read right: ``SMALL_SCAN_INK``).
    work_side = min(max(gray.shape), WORK_SIDE)
    if prepared.ink_side < min(th.min_ink_side, SMALL_SCAN_INK * work_side):
        return Pieces([], [], Decision(Outcome.UNCLEAR, reason="too small"))
    # A wide box alone is not enough: 一 written long is one wide character. Nor are parts
    # side by side: 八 written flat is two strokes apart. So it is read anyway, and only a
    # reading that is not the target is "several characters".
    several = line = None
    if target and prepared.aspect > th.max_aspect and prepared.pieces > 1:
        several = SEVERAL
    # The recognizer reads a whole single character best from the photo itself (its
    # own crop keeps faint strokes that our cleaning drops), dark ink on light. At the
    # size our preprocessing works at: a phone photo's full 1024 px cost the readers'
    # input 20-25 ms to make (in the main process), for no detail our model had.
    paper = _paper(gray, prepared.inverted)
    # Handwritten words are often under 2.2 times as wide as tall (朋友 when 朋 is asked),
    # or written top to bottom; characters in parts are common in both directions (八, 零:
    # 雨 over 令), so the readers decide (``judge``), a column turned as LineOCR reads one.
    if target and prepared.aspect > LINE_ASPECT and prepared.pieces > 1:
        line = _square_round(paper, prepared.box)
    elif target and prepared.aspect * LINE_ASPECT < 1 and prepared.rows > 1:
        line = np.ascontiguousarray(np.rot90(_square_round(paper, prepared.box)))  # top left
    image = prepared.image if prepared.views is None else prepared.views
    return Pieces([image], [paper], unless_correct=several, line=line)


def _prepare_packed(args: tuple[Job, int, Thresholds, str, tuple[float, ...]]) -> Pieces:
    return prepare_job(*args)


class CharModel:
    """Loads ``model.json``, the IR, charset and templates from a model directory."""

    def __init__(
        self,
        model_dir: Path | str = DEFAULT_DIR,
        *,
        threads: int | None = None,
        second_opinion: SecondOpinion | None = None,
        processes: int = 0,
    ) -> None:
        self.dir = Path(model_dir)
        # Preprocessing is Python and holds most of the GIL: threads share one core for
        # it (measured before preprocessing was made faster: 178 photos/s on one thread,
        # 205 on two). Worker processes do not.
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        meta_path = self.dir / "model.json"
        if not meta_path.is_file():
            raise ModelLoadError(f"no character model in {self.dir} (model.json is missing)")
        meta = json.loads(meta_path.read_text("utf-8"))
        self.size = int(meta["input_size"])
        # Ink values are raised to this power before the model reads them. Real ink is
        # fainter and more uneven than the synthetic ink the model was trained on, and its
        # faint strokes read as missing: 0.8 lifted our model's top-1 on real handwriting
        # from 87.1% to 88.8% (model card). 1: the ink as prepared.
        self.gamma = float(meta.get("input_gamma", 1.0))
        if not 0.0 < self.gamma <= 4.0:
            raise ModelLoadError("model.json: input_gamma must be above 0 and at most 4")
        self.charset = (self.dir / meta["charset"]).read_text("utf-8").strip()
        self.templates = np.load(self.dir / meta["templates"]).astype(np.float32)
        self.thresholds = Thresholds(**meta["thresholds"])
        # The thresholds were calibrated with these framings, so they are stored together.
        self.views = Views.from_meta(meta.get("views", {}))
        self.engine = CompiledModel(self.dir / meta["ir"], threads=threads)
        # The classes are the charset plus "unknown": a mismatch means the wrong files.
        self.engine.check_charset(len(self.charset), reserved=1, output="probs")
        if self.templates.shape[0] != len(self.charset):
            raise ModelLoadError(
                f"{len(self.templates)} templates for {len(self.charset)} characters"
            )
        self.labels = (*self.charset, "unknown")
        # Stored with every graded answer, so feedback says which model judged it.
        self.version = model_version(self.dir)
        self.fusion = Fusion.from_meta(meta["fusion"]) if "fusion" in meta else None
        # Without a fusion section the model's thresholds are for its own scores alone.
        self.second = second_opinion if self.fusion is not None else None
        self.thorough = self._thorough(meta.get("thorough"))
        self.tally = Tally()

    def _thorough(self, meta: dict[str, Any] | None) -> tuple[Fusion, Thresholds] | None:
        """The second operating point (``thorough`` in model.json): the same readers with
        their own cascade, say, scale and power of "another character" (``other``), and the
        thresholds calibrated for them. With a cascade above 1 the readers read every
        character: on the real sample that reads better than asking them only where our
        model is unsure, at half the photos per second (model card), so the bot uses it
        when it is not busy (``judge``)."""
        if meta is None or self.fusion is None:
            return None
        changed = {k: meta[k] for k in ("cascade", "known_scale", "weight", "other") if k in meta}
        fusion = Fusion.from_meta(self.fusion.as_meta() | changed)
        try:
            accept, known = float(meta["accept"]), float(meta["known"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"model.json: thorough needs accept and known ({exc})") from exc
        return fusion, replace(self.thresholds, accept=accept, known=known)

    def _outputs(self, images: npt.NDArray[np.float32]) -> tuple[Outputs, Outputs, Outputs]:
        """The model's probs, embeddings and incomplete scores for (N, size, size) images."""
        x = raise_ink(images.astype(np.float32), self.gamma)
        out = self.engine.infer(x[..., None])
        probs, emb, inc = (
            np.asarray(out[k], np.float32) for k in ("probs", "embedding", "incomplete")
        )
        return probs, emb, inc

    @staticmethod
    def _mean(probs: Outputs, emb: Outputs, inc: Outputs) -> Scores:
        """One character's scores from the model's rows for its framings."""
        e = emb.mean(axis=0)
        e /= max(float(np.linalg.norm(e)), 1e-9)
        return Scores.of(probs.mean(axis=0), e, inc.mean(axis=0))

    def scores(self, images: Sequence[npt.NDArray[np.float32]]) -> list[Scores]:
        """Model outputs for prepared character images (size x size, ink in [0, 1]), or for
        stacks of views of one character each (views x size x size: their mean)."""
        if not images:
            return []
        stacks = [img.reshape(-1, self.size, self.size) for img in images]
        ends = np.cumsum([len(v) for v in stacks])
        probs, emb, inc = self._outputs(np.concatenate(stacks))
        return [
            self._mean(probs[a:b], emb[a:b], inc[a:b])
            for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True)
        ]

    def read(self, images: Sequence[npt.NDArray[np.float32]]) -> list[Scores]:
        """Scores of characters given as stacks of framings (``prepare_job``'s, the usual crop
        first): the usual crop alone where the model is sure, the mean of all the
        framings where it is not (``Views``). The usual crop is inferred once."""
        if not images:
            return []
        stacks = [img.reshape(-1, self.size, self.size) for img in images]
        probs, emb, inc = self._outputs(np.stack([v[0] for v in stacks]))
        n = len(self.charset)
        again = [
            i
            for i, v in enumerate(stacks)
            if len(v) > 1 and float(probs[i, :n].max()) < self.views.below
        ]
        scores = [
            self._mean(probs[i : i + 1], emb[i : i + 1], inc[i : i + 1]) for i in range(len(stacks))
        ]
        if not again:
            return scores
        more = self._outputs(np.concatenate([stacks[i][1:] for i in again]))
        at = 0
        for i in again:
            k = len(stacks[i]) - 1
            rows = [
                np.concatenate([first[i : i + 1], m[at : at + k]])
                for first, m in zip((probs, emb, inc), more, strict=True)
            ]
            scores[i] = self._mean(*rows)
            at += k
        return scores

    def warm_up(self, stop: threading.Event | None = None) -> int:
        """Run our model at every batch size from 1 to ``WARM_CHARACTERS`` and each reader
        at every batch size it reads characters in and on a short line
        (``CompiledModel.warm_up``, ``PPOCRRecognizer.warm_up``): a photo met by unbuilt
        kernels takes several times as long. About 2.5 seconds on 2 cores; returns how many
        shapes ran (fewer once ``stop`` is set)."""
        ran = self.engine.warm_up(range(1, WARM_CHARACTERS + 1), stop)
        for reader in self._line_readers():
            ran += reader.warm_up(stop)
        return ran

    def _pieces(self, job: Job) -> Pieces:
        return prepare_job(job, self.size, self.thresholds, self.charset, self.views.margins)

    def _worker_pool(self) -> ProcessPoolExecutor:
        """The preprocessing processes, started on first use. The batching threads share
        them, so the pool is started, and a broken one dropped, under a lock."""
        with self._pool_lock:
            if self._pool is None:
                # spawn: no copy of this process's OpenVINO threads and locks in the workers.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self.processes, mp_context=context)
            return self._pool

    def _prepare_all(self, jobs: Sequence[Job]) -> list[Pieces]:
        if self.processes < 1 or len(jobs) < 2:
            return [self._pieces(job) for job in jobs]
        pool = self._worker_pool()
        args = [(job, self.size, self.thresholds, self.charset, self.views.margins) for job in jobs]
        chunk = max(1, len(jobs) // (2 * self.processes))
        try:
            return list(pool.map(_prepare_packed, args, chunksize=chunk))
        except BrokenProcessPool:
            # A worker died (killed, out of memory): answer these photos here and start a
            # fresh pool next time rather than failing every caller from now on. Another
            # thread may have met the same broken pool and replaced it already.
            log.warning("charmodel.pool_broken", exc_info=True)
            with self._pool_lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False)
            return [self._pieces(job) for job in jobs]

    def close(self) -> None:
        """Stop the preprocessing processes, if any were started."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _second_opinion(
        self,
        scores: list[Scores],
        papers: list[Gray],
        inks: Sequence[Ink],
        fusion: Fusion | None,
    ) -> list[Scores]:
        """Scores with the recognizer's opinion fused in where our model is not sure."""
        if self.second is None or fusion is None or not scores:
            return scores
        n = len(self.charset)
        unsure = [i for i, s in enumerate(scores) if fusion.unsure(s.probs, n)]
        self.tally.add(characters=len(scores), doubtful=len(unsure))
        if not unsure:
            return scores
        ours = [scores[i].probs for i in unsure]
        doubtful_papers = [papers[i] for i in unsure]
        doubtful_inks = [inks[i] for i in unsure]
        if isinstance(self.second, Panel) and fusion.settle is not None:
            fused = staged_fusion(
                self.second,
                fusion,
                ours,
                doubtful_papers,
                doubtful_inks,
                self.charset,
                self.tally,
            )
        else:
            self.tally.add(all_readers=len(unsure))
            theirs = reader_probabilities(
                self.second,
                fusion.inputs,
                doubtful_papers,
                doubtful_inks,
                self.charset,
                other=fusion.asks_other,
            )
            fused = [fusion.combine(o, t) for o, t in zip(ours, theirs, strict=True)]
        out = list(scores)
        for probs, i in zip(fused, unsure, strict=True):
            s = scores[i]
            # Scores.of again: with a score per class, "the likeliest" follows the fusion.
            by_class = s.incomplete_by_class
            inc = np.array([s.incomplete], np.float32) if by_class is None else by_class
            out[i] = Scores.of(probs, s.embedding, inc)
        return out

    def point(self, thorough: bool) -> tuple[Fusion | None, Thresholds]:
        """The fusion and thresholds that judge: the thorough operating point's when asked
        for and the model has one, else the fast one's."""
        if thorough and self.thorough is not None:
            return self.thorough
        return self.fusion, self.thresholds

    def judge(self, jobs: Sequence[Job], *, thorough: bool = False) -> list[Decision]:
        """Verdicts for many photos with one inference over all their characters;
        ``thorough``: at the model's thorough operating point, where it has one."""
        fusion, th = self.point(thorough)
        prepared = self._prepare_all(jobs)
        papers = [paper for p in prepared for paper in p.papers]
        flat = [img for p in prepared for img in p.images]
        scores = iter(self._second_opinion(self.read(flat), papers, flat, fusion))
        results: list[Decision] = []
        for job, p in zip(jobs, prepared, strict=True):
            these = [next(scores) for _ in p.images]
            if p.early is not None:
                results.append(p.early)
            elif not job.target:
                results.append(self._classified(these[0], th))
            else:
                per_char = [
                    decide(s, ch, self.charset, self.templates, th)
                    for s, ch in zip(these, job.target, strict=True)
                ]
                verdict = combine(per_char, job.target)
                if (
                    verdict.outcome is Outcome.WRONG_CHARACTER
                    and p.whole is not None
                    and self._reads_word(p.whole, job.target)
                ):
                    verdict = Decision(Outcome.CORRECT, job.target, verdict.confidence)
                doubt = p.unless_correct
                if doubt is not None and (
                    verdict.outcome is not Outcome.CORRECT or not self._one_symbol(p.papers[0])
                ):
                    verdict = doubt
                if p.line is not None and self._several_in_line(p.line, job.target):
                    verdict = SEVERAL
                results.append(verdict)
        return results

    def _line_readers(self) -> list[PPOCRRecognizer]:
        """The second opinion's readers that read lines (PaddleOCR's), in panel order."""
        from recognition.ppocr import PPOCRRecognizer

        second = self.second
        members = second.members if isinstance(second, Panel) else (second,)
        return [m for m in members if isinstance(m, PPOCRRecognizer)]

    def _line_readings(self, paper: Gray) -> list[str]:
        """What each reader able to read lines reads in ``paper`` (dark on light) taken as
        a line of text, spaces dropped; none such: an empty list."""
        return [r.read_lines([paper])[0].text.replace(" ", "") for r in self._line_readers()]

    def _one_symbol(self, paper: Gray) -> bool:
        """Whether every reader reads ``paper``, taken as a line of text, as one symbol at
        most: a wide character written in parts (八 with its two strokes apart) rather than
        several characters. Our model and the readers' character scores cannot tell: a line
        of writing scores as its first character (我你好 as 我), and a character written
        twice as itself. No reader able to read lines: not one symbol."""
        readings = self._line_readings(paper)
        return bool(readings) and all(len(text) <= 1 for text in readings)

    def _reads_word(self, line: Gray, target: str) -> bool:
        """Whether every reader able to read lines reads ``line`` (a word's whole photo,
        a column turned a quarter) as the word ``target``, its Chinese characters exactly
        (punctuation, Latin letters and digits aside). Read as a line, characters that
        touch or overlap need no cut: a second chance for a word whose cut went wrong.
        No such reader: no."""
        from recognition.ppocr import is_ideograph

        readings = self._line_readings(line)
        return bool(readings) and all(
            "".join(c for c in text if is_ideograph(c)) == target for text in readings
        )

    def _several_in_line(self, line: Gray, target: str) -> bool:
        """Whether ``line`` (a row, or a column turned a quarter, its top to the left, as
        ``LineOCR`` reads columns) is several characters, the target among them, rather
        than a character in parts: every reader reads two Chinese characters or more in
        it, and one of them reads the target. Turned, a lone character often reads as Latin
        letters or digits (零 as "1E"), hence only Chinese characters count; its parts can
        read as characters too (六 as 八八, 客 as 二名: 3 of the real sample's 440 tall
        pictures in parts), hence the target. No reader: not several."""
        from recognition.ppocr import is_ideograph

        readings = self._line_readings(line)
        return (
            bool(readings)
            and all(sum(is_ideograph(c) for c in text) >= 2 for text in readings)
            and any(target in text for text in readings)
        )

    def _classified(self, s: Scores, th: Thresholds) -> Decision:
        """No target: the likeliest HSK 1 characters, and whether the best is sure enough
        to call the writing that character (else it is probably not HSK 1 at all)."""
        n = len(self.charset)
        best = int(np.argmax(s.probs[:n]))
        p_best = float(s.probs[best])
        known = p_best >= th.known
        return Decision(
            Outcome.CORRECT if known else Outcome.WRONG_CHARACTER,
            self.charset[best] if known else None,
            p_best,
            incomplete_score=s.incomplete_for(best),
            reason="" if known else "not an HSK 1 character",
            top5=top_k(s.probs[:n], self.charset),
        )


def load_second_opinion(
    model_dir: Path | str = DEFAULT_DIR, *, shared: Mapping[Path, SecondOpinion] | None = None
) -> SecondOpinion | None:
    """The recognizers the model's ``fusion.readers`` names, as one second opinion; None
    when the model asks for none or one of them is missing (the model then answers alone,
    and says so in the log). ``shared`` maps a reader's folder to a recognizer already
    compiled (the text-line OCR's), so it is not compiled twice."""
    model_dir = Path(model_dir)
    meta_path = model_dir / "model.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text("utf-8"))
    if "fusion" not in meta:
        return None
    return readers_opinion(model_dir.parent, Fusion.from_meta(meta["fusion"]).readers, shared)


def readers_opinion(
    models: Path, readers: Sequence[str], shared: Mapping[Path, SecondOpinion] | None = None
) -> SecondOpinion | None:
    """The recognizers in ``models/<reader>`` as one second opinion (several: a ``Panel``),
    reusing those in ``shared``; None (logged) if a reader's folder is missing."""
    known = {Path(k).resolve(): v for k, v in (shared or {}).items()}
    members: list[SecondOpinion] = []
    for name in readers:
        folder = (models / name).resolve()
        if folder in known:
            members.append(known[folder])
        elif folder.is_dir():
            from recognition.ppocr import PPOCRRecognizer

            members.append(PPOCRRecognizer(folder))
        else:
            log.warning(
                "recognition.second_opinion_missing", extra={"fields": {"reader": str(folder)}}
            )
            return None
    return members[0] if len(members) == 1 else Panel(members)


def load_char_model(
    model_dir: Path | str = DEFAULT_DIR, *, second_opinion: bool = True, processes: int = 0
) -> CharModel:
    """The character model with the second opinion it asks for (``fusion.readers`` in its
    model.json, folders beside it) when those recognizers are there."""
    second = load_second_opinion(model_dir) if second_opinion else None
    return CharModel(model_dir, second_opinion=second, processes=processes)
