"""The HSK 1 vocabulary: what a learner is shown, and that the shipped data is reproducible."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from quizzes.hsk import Character, Vocabulary, Word, load_vocabulary
from tests.conftest import load_tool

REPO = Path(__file__).resolve().parents[2]
SHARED_SOURCE = REPO.parent / "shared" / "data" / "hsk" / "hsk-old-level1.json"


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_vocabulary()


def _build_script() -> ModuleType:
    return load_tool("build_hsk_data")


def test_hsk1_has_150_words_written_with_178_characters(vocab: Vocabulary) -> None:
    assert vocab.level == "hsk1"
    assert len(vocab.words) == 150
    assert len(vocab.characters) == 178
    assert len(vocab.charset) == len(set(vocab.charset)) == 178
    assert set(vocab.charset) == {ch for w in vocab.words for ch in w.hanzi}


def test_characters_come_in_order_of_first_use(vocab: Vocabulary) -> None:
    first_use = list(dict.fromkeys(ch for w in vocab.words for ch in w.hanzi))
    assert vocab.charset == "".join(first_use)
    assert vocab.charset.startswith("爱八爸杯子北京")


@pytest.mark.parametrize(
    ("hanzi", "pinyin", "sense"),
    [
        ("多少", "duōshao", "how many?"),
        ("东西", "dōngxi", "thing"),
        ("谢谢", "xièxie", "thank you"),
        ("的", "de", "of"),
        ("了", "le", "(completed action marker)"),
        ("都", "dōu", "all"),
        ("和", "hé", "together with"),
        ("没", "méi", "not"),
        ("睡觉", "shuìjiào", "to sleep"),
        ("女儿", "nǚ'ér", "daughter"),
        ("北京", "Běijīng", "Beijing"),
        ("打电话", "dǎ diànhuà", "to make a telephone call"),
        ("点", "diǎn", "o'clock"),
        ("块", "kuài", "classifier for money"),
    ],
)
def test_words_have_the_reading_and_sense_hsk1_teaches(
    vocab: Vocabulary, hanzi: str, pinyin: str, sense: str
) -> None:
    word = vocab.word(hanzi)
    assert word is not None
    assert word.pinyin == pinyin
    assert sense in word.gloss


def test_every_word_can_be_shown_to_a_learner(vocab: Vocabulary) -> None:
    for word in vocab.words:
        assert word.pinyin.strip(), word
        assert word.meanings and all(m.strip() for m in word.meanings), word
        assert 1 <= len(word.meanings) <= 3, word
        assert word.frequency > 0, word
        assert word.length == len(word.hanzi)
    for char in vocab.characters:
        assert char.pinyin.strip() and char.meaning.strip(), char
        assert char.words and all(char.hanzi in w for w in char.words), char
        assert all(vocab.word(w) is not None for w in char.words), char


def test_no_unsuitable_senses_are_shown(vocab: Vocabulary) -> None:
    glosses = " ".join(w.gloss for w in vocab.words)
    for unwanted in ("prostitute", "(slang)", "(dialect)", "variant of", "surname", "modem"):
        assert unwanted not in glosses


def test_gloss_joins_the_meanings(vocab: Vocabulary) -> None:
    word = vocab.word("谢谢")
    assert word is not None
    assert word.gloss == "; ".join(word.meanings)
    assert word.length == 2


def test_a_character_that_is_a_word_takes_the_word_reading(vocab: Vocabulary) -> None:
    char = vocab.character("少")
    assert char is not None
    assert char.pinyin == "shǎo"  # not the neutral shao of 多少
    assert char.words == ("多少", "少")
    assert char.radical == "小"


def test_other_characters_are_explained_through_a_word(vocab: Vocabulary) -> None:
    jiao = vocab.character("觉")
    assert jiao is not None
    assert jiao.pinyin == "jiào"
    assert jiao.meaning.startswith("as in 睡觉 (shuìjiào): ")
    # 生 keeps its own tone (医生 yīshēng) rather than the neutral one of 先生 / 学生.
    sheng = vocab.character("生")
    assert sheng is not None
    assert sheng.pinyin == "shēng"
    assert sheng.words == ("先生", "学生", "医生")


def test_item_prefers_the_word_then_falls_back_to_the_character(vocab: Vocabulary) -> None:
    assert isinstance(vocab.item("北京"), Word)
    assert isinstance(vocab.item("一"), Word)  # both a word and a character
    assert isinstance(vocab.item("京"), Character)
    assert vocab.item("猫狗") is None
    assert vocab.item("龙") is None
    assert "京" in vocab and "北京" in vocab and "龙" not in vocab and 7 not in vocab


def test_words_in_segments_longest_match_first(vocab: Vocabulary) -> None:
    assert [w.hanzi for w in vocab.words_in("我爱北京")] == ["我", "爱", "北京"]
    assert [w.hanzi for w in vocab.words_in("我们都喜欢吃米饭。")] == [
        "我们",
        "都",
        "喜欢",
        "吃",
        "米饭",
    ]
    # 怎么样 beats 怎么; 京 alone and non-HSK characters are skipped.
    assert [w.hanzi for w in vocab.words_in("龙京怎么样？")] == ["怎么样"]
    assert vocab.words_in("") == []


def test_load_vocabulary_is_cached_and_rejects_unknown_levels() -> None:
    assert load_vocabulary() is load_vocabulary("hsk1")
    with pytest.raises(ValueError):
        load_vocabulary("hsk9")
    with pytest.raises(ValueError):
        load_vocabulary("../hsk1")


@pytest.mark.skipif(not SHARED_SOURCE.exists(), reason="shared HSK source not available")
def test_shipped_data_is_what_the_build_script_produces() -> None:
    build = _build_script()
    expected = build.render(build.build(build.load_source(SHARED_SOURCE)))
    shipped = (REPO / "quizzes" / "data" / "hsk1.json").read_text(encoding="utf-8")
    assert shipped == expected, "run: python tools/build_hsk_data.py"


def test_data_carries_its_licence_notice() -> None:
    notice = (REPO / "quizzes" / "data" / "LICENSE-hsk.txt").read_text(encoding="utf-8")
    assert "MIT License" in notice and "complete-hsk-vocabulary" in notice
    assert "CC-CEDICT" in notice and "CC BY-SA 4.0" in notice
