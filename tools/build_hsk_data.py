"""Build quizzes/data/hsk1.json from the complete-hsk-vocabulary HSK 2.0 level 1 word list.

Usage: python tools/build_hsk_data.py [SOURCE] [--radicals-from LIST ...] [--strokes PATH]
                                     [--output PATH] [--check]

SOURCE defaults to ../shared/data/hsk/hsk-old-level1.json relative to the repository. A
character's radical comes from the first of: SOURCE's words, the words of the other lists
(default: the HSK 3.0 level 1 list beside SOURCE), the committed stroke data (see
``radicals_from_strokes``). The output is committed; ``--check`` exits non-zero if it is out
of date.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from quizzes.strokes import HSK1_STROKES, CharStrokes, StrokeData  # noqa: E402

DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "hsk" / "hsk-old-level1.json"
# Same project and licence; it names the radicals of characters that HSK 2.0 level 1 only uses
# inside words (话 in 电话, 们 in 我们), since a list entry gives its first character's radical.
DEFAULT_RADICAL_LISTS = (DEFAULT_SOURCE.parent / "hsk-new-level1.json",)
DEFAULT_OUTPUT = REPO / "quizzes" / "data" / "hsk1.json"

LEVEL = "hsk1"
NAME = "HSK 2.0 level 1"
SOURCE_NOTE = (
    "HSK 2.0 level 1 word list from complete-hsk-vocabulary "
    "(https://github.com/drkameleon/complete-hsk-vocabulary, MIT licence); "
    "English meanings from CC-CEDICT (https://cc-cedict.org, CC BY-SA 4.0). "
    "Readings and glosses selected by tools/build_hsk_data.py. Radicals from the list's words, "
    "else from its HSK 3.0 level 1 list, else matched by tools/build_hsk_data.py on the radical "
    "strokes (radStrokes) of hanzi-writer-data / Make Me a Hanzi (Arphic Public License)."
)
LICENCE_NOTE = (
    "Word list: MIT (complete-hsk-vocabulary). English meanings: CC-CEDICT, CC BY-SA 4.0. "
    "See quizzes/data/LICENSE-hsk.txt."
)

# The reading an HSK 1 learner is taught, for every word whose list entry has more than one.
# Values are the list's own pinyin for the chosen form (syllables separated by spaces), so a
# typo here fails the build instead of inventing a reading. The build refuses to guess: a
# word with several readings that is missing from this table is an error.
READINGS: dict[str, tuple[str, str]] = {
    "大": ("dà", "'big'; dài only occurs in 大夫 'doctor'"),
    "的": ("de", "the structural particle; dī/dí/dì are bound forms"),
    "东西": ("dōng xi", "'thing', the HSK 1 sense; dōng xī is 'east and west'"),
    "都": ("dōu", "'all'; dū 'capital city' comes with 首都 in HSK 3"),
    "读": ("dú", "'to read'; dòu 'pause in a phrase' is literary"),
    "个": ("gè", "the general classifier; gě occurs only in 自个儿"),
    "好": ("hǎo", "'good'; hào 'to be fond of' comes later (爱好, HSK 3)"),
    "喝": ("hē", "'to drink'; hè is 'to shout'"),
    "和": ("hé", "'and'; the other readings belong to poetry, mahjong and cooking"),
    "会": ("huì", "'can, know how to'; kuài is 'accounting' (会计)"),
    "几": ("jǐ", "'how many'; jī is 'small table' or 'almost'"),
    "看": ("kàn", "'to look'; kān is 'to look after'"),
    "了": ("le", "the aspect and modal particle; liǎo 'to finish' comes later"),
    "吗": ("ma", "the yes/no question particle"),
    "没": ("méi", "'not (have)'; mò 'to sink' is literary"),
    "哪": ("nǎ", "'which', as HSK 1 teaches it; něi is a colloquial variant"),
    "那": ("nà", "'that'; nèi is colloquial, the other readings are surnames or archaic"),
    "呢": ("ne", "the question particle; ní is 'woollen cloth'"),
    "多少": ("duō shao", "'how many? how much?'; duō shǎo is 'amount, somewhat'"),
    "少": ("shǎo", "'few, little'; shào is 'young'"),
    "上": ("shàng", "'up, on, previous'; shǎng occurs only in 上声"),
    "听": ("tīng", "'to listen' (聽); yǐn 'to smile' is an unrelated archaic character"),
    "喂": ("wéi", "'hello?' on the phone, the HSK 1 use; wèi is 'hey!' or 'to feed'"),
}

# Phrases that pinyin writes as more than one word; everything else is written joined.
# Tones are the dictionary ones (bù kèqi, not the sandhi bú kèqi), as in the source list.
PHRASES: dict[str, str] = {
    "打电话": "打 电话",
    "不客气": "不 客气",
    "没关系": "没 关系",
}

# Glosses for words whose first CC-CEDICT senses are not the ones HSK 1 teaches, or are
# unsuitable for a beginner. Each gloss must occur in the source's meanings for the chosen
# reading (after splitting on ';'), so this table selects and orders, it never writes.
GLOSSES: dict[str, tuple[str, ...]] = {
    "本": ("classifier for books, periodicals, files etc", "root", "origin"),  # 一本书
    "不客气": ("you're welcome", "don't mention it"),  # not 'impolite, rude'
    "吃": ("to eat", "to consume"),
    "的": ("of", "~'s (possessive particle)"),
    "点": ("o'clock", "point", "dot"),  # 三点 'three o'clock'
    "个": ("(classifier used before a noun that has no specific classifier)", "individual"),
    "工作": ("to work", "job", "work"),
    "很": ("very", "quite"),
    "后面": ("behind", "at the back", "later"),
    "回": ("to go back", "to return", "time"),  # 回家; not 'to circle'
    "家": ("home", "family", "classifier for families or businesses"),
    "叫": ("to be called", "to call", "to shout"),  # 我叫…
    "开": ("to open (transitive or intransitive)", "to turn on", "to operate"),
    "块": ("(coll.) classifier for money and currency units", "piece", "lump"),  # 三块钱
    "来": ("to come",),
    "了": (
        "(completed action marker)",
        "(modal particle indicating change of state, situation now)",
    ),
    "里": ("inside", "interior"),  # 'lining' and the 500 m 'li' are other senses
    "零": ("zero", "nought"),
    "猫": ("cat",),  # not '(coll.) modem'
    "哪": ("which", "how"),
    "那": ("(specifier) that", "those", "then (in that case)"),
    "呢": (  # 你呢? 'and you?'; CC-CEDICT has no shorter wording of this sense
        "particle indicating that a previously asked question is to be applied to the "
        'preceding word ("What about ...?", "And ...?")',
    ),
    "年": ("year",),  # 'grain, harvest' belong to the variant 秊
    "钱": ("money", "coin"),
    "热": ("hot (of weather)", "heat"),
    "日": ("day", "date, day of the month", "sun"),
    "他": ("he", "him (used for either sex when the sex is unknown or unimportant)"),
    "太": ("too (much)", "very", "extremely"),
    "同学": ("classmate", "fellow student"),
    "先生": ("mister (Mr.)", "sir", "husband"),  # 'teacher' is literary; HSK 1 has 老师
    "想": ("to want (to)", "to think (about)", "to miss (feel wistful about the absence of)"),
    "在": (
        "(of sb or sth) to be (located) at",
        "(used before a verb to indicate an action in progress)",
    ),
    "这": ("this", "these"),
    "做": ("to do", "to make"),
}

MAX_GLOSSES = 3
MAX_GLOSS_CHARS = 40

_DROP_GLOSS = re.compile(
    r"^(?:(?:old |unofficial )?variant of|used in|surname|see \S|abbr\. for)"
    r"|\((?:slang|dialect|Beijing dialect|Tw)\)"
)
_PRONUNCIATION_NOTE = re.compile(r"\s*\((?:Taiwan|colloquial) pr\. \[[^\]]*\]\)|^also pr\. \[.*")
_BOUND_FORM = re.compile(r"^\(bound form\) ")
_VOWEL_START = re.compile(r"^[aāáǎàoōóǒòeēéěè]", re.IGNORECASE)


class BuildError(Exception):
    """The source list does not support a deliberate choice (ambiguous or unknown)."""


def load_source(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise BuildError(f"{path}: expected a JSON list of word entries")
    return data


def _pinyin(form: dict[str, Any]) -> str:
    return str(form["transcriptions"]["pinyin"])


def _candidate_forms(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Forms that can be the word itself: common-noun readings unless the word is a name."""
    forms: list[dict[str, Any]] = entry["forms"]
    common = [f for f in forms if not _pinyin(f)[:1].isupper()]
    return common or forms


def choose_forms(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """All forms with the reading taught for this word (variant spellings share a reading)."""
    word = entry["simplified"]
    forms = _candidate_forms(entry)
    readings = list(dict.fromkeys(_pinyin(f) for f in forms))
    if word in READINGS:
        wanted = READINGS[word][0]
        if wanted not in readings:
            raise BuildError(f"{word}: reading {wanted!r} is not one of {readings}")
    elif len(readings) == 1:
        wanted = readings[0]
    else:
        raise BuildError(f"{word}: several readings {readings}; add one to READINGS")
    return [f for f in forms if _pinyin(f) == wanted]


def join_syllables(syllables: Sequence[str]) -> str:
    """Write the syllables of one pinyin word together, with an apostrophe before a, o, e."""
    out = syllables[0]
    for syllable in syllables[1:]:
        out += ("'" if _VOWEL_START.match(syllable) else "") + syllable
    return out


def word_pinyin(word: str, syllables: Sequence[str]) -> str:
    if len(syllables) != len(word):
        raise BuildError(f"{word}: {len(syllables)} syllables for {len(word)} characters")
    parts = PHRASES.get(word, word).split(" ")
    if "".join(parts) != word:
        raise BuildError(f"{word}: PHRASES entry {PHRASES[word]!r} does not spell the word")
    written, start = [], 0
    for part in parts:
        written.append(join_syllables(syllables[start : start + len(part)]))
        start += len(part)
    return " ".join(written)


def _clean_gloss(gloss: str) -> str:
    gloss = _PRONUNCIATION_NOTE.sub("", gloss.strip())
    return _BOUND_FORM.sub("", gloss).strip()


def all_glosses(forms: Sequence[dict[str, Any]]) -> list[str]:
    """Every sense of the chosen forms, split on ';', in source order, without duplicates."""
    glosses: list[str] = []
    for form in forms:
        for meaning in form["meanings"]:
            for raw in str(meaning).split(";"):
                gloss = _clean_gloss(raw)
                if gloss and not _DROP_GLOSS.search(gloss) and gloss not in glosses:
                    glosses.append(gloss)
    return glosses


def choose_glosses(word: str, forms: Sequence[dict[str, Any]]) -> list[str]:
    available = all_glosses(forms)
    if word in GLOSSES:
        missing = [g for g in GLOSSES[word] if g not in available]
        if missing:
            raise BuildError(f"{word}: GLOSSES {missing} are not among {available}")
        return list(GLOSSES[word])
    if not available:
        raise BuildError(f"{word}: no usable gloss; add one to GLOSSES")
    short = [g for g in available if len(g) <= MAX_GLOSS_CHARS][:MAX_GLOSSES]
    return short or available[:1]


def build_words(source: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    words: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in source:
        word = str(entry["simplified"])
        if word in seen:
            raise BuildError(f"{word}: listed twice")
        seen.add(word)
        forms = choose_forms(entry)
        syllables = _pinyin(forms[0]).split()
        words.append(
            {
                "hanzi": word,
                "pinyin": word_pinyin(word, syllables),
                "syllables": syllables,
                "meanings": choose_glosses(word, forms),
                "radical": str(entry.get("radical", "")),
                "frequency": int(entry["frequency"]),
                "pos": [str(p) for p in entry.get("pos", [])],
            }
        )
    unknown = (set(READINGS) | set(PHRASES) | set(GLOSSES)) - seen
    if unknown:
        raise BuildError(f"override tables name words not in the list: {sorted(unknown)}")
    return words


@dataclass(frozen=True)
class Radical:
    radical: str
    origin: str  # "" for the main list, else the other list's name or how it was matched


def list_radicals(lists: Iterable[tuple[str, Iterable[Mapping[str, Any]]]]) -> dict[str, Radical]:
    """Radicals as the word lists (source entries, or built words) give them, earlier lists first.

    A list entry's radical is its first character's (一样 has 一's), so only first characters
    get one. The lists must agree: a disagreement means that reading is wrong.
    """
    radicals: dict[str, Radical] = {}
    for origin, entries in lists:
        for entry in entries:
            word = str(entry["hanzi"] if "hanzi" in entry else entry["simplified"])
            radical = str(entry.get("radical", ""))
            if not word or not radical:
                continue
            known = radicals.setdefault(word[0], Radical(radical, origin))
            if known.radical != radical:
                raise BuildError(f"{word[0]}: radical {known.radical} vs {radical} in {word}")
    return radicals


# Matching radical strokes (see radicals_from_strokes). Medians are resampled to POINTS points;
# the weights and limits were tuned on the HSK 1 characters whose radical the lists give: with
# any one of them hidden, the match names it or abstains (tests/unit/test_radicals.py).
POINTS = 8
DIRECTION_WEIGHT = 0.3  # a dot is not a short horizontal (亠 is not the top of 些's 二)
# Different radicals' strokes lie 0.12 or more apart in HSK 1 (四's 囗 from 名's 口), bar the
# same shape under two names (see confusable); half the same radical's lie within 0.03.
MATCH_DISTANCE = 0.1
MATCH_MARGIN = 0.03  # how much nearer the best radical must be than any other

KANGXI_RADICALS = frozenset(
    unicodedata.normalize("NFKC", chr(cp)) for cp in range(0x2F00, 0x2FD6)
)  # Unicode's Kangxi Radicals block, mapped to the ideographs (⽓ -> 气)


@dataclass(frozen=True)
class Component:
    """The strokes that form a character's radical, for comparing with other characters'."""

    char: str
    shape: npt.NDArray[np.float64]  # (strokes, POINTS, 2): centred, longer side 1
    directions: npt.NDArray[np.float64]  # (strokes, 2): unit vector from start to end


def _resample(median: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """POINTS points evenly spaced along the stroke, so long and short strokes compare."""
    along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(median, axis=0).T))])
    if along[-1] == 0:
        return np.repeat(median[:1], POINTS, axis=0)
    at = np.linspace(0.0, along[-1], POINTS)
    return np.stack([np.interp(at, along, median[:, 0]), np.interp(at, along, median[:, 1])], 1)


def component(char: CharStrokes) -> Component | None:
    """The radical's strokes of ``char``, or None unless the data marks a proper part."""
    if not 0 < len(char.radical_strokes) < len(char):
        return None
    points = [_resample(char.medians[i]) for i in char.radical_strokes]
    low, high = np.vstack(points).min(axis=0), np.vstack(points).max(axis=0)
    centre, extent = (low + high) / 2, max(float((high - low).max()), 1e-3)
    ends = np.array([p[-1] - p[0] for p in points])
    norms = np.linalg.norm(ends, axis=1, keepdims=True)
    return Component(
        char=char.char,
        shape=np.stack([(p - centre) / extent for p in points]),
        directions=np.divide(ends, norms, out=np.zeros_like(ends), where=norms > 1e-9),
    )


def distance(a: Component, b: Component) -> float | None:
    """How unlike two radical components are (0: the same), None for different stroke counts.

    Where the component sits and how big it is are left out: 阝 is 阝 on the left of 院 and
    the right of 都, 木 narrow in 校 and wide in 桌.
    """
    if a.shape.shape != b.shape.shape:
        return None
    return float(np.mean(np.linalg.norm(a.shape - b.shape, axis=2))) + DIRECTION_WEIGHT * float(
        np.mean(np.linalg.norm(a.directions - b.directions, axis=1))
    )


def confusable(examples: Mapping[str, tuple[Component, str]]) -> frozenset[str]:
    """Radicals that the examples give to components matching another radical's: the same shape
    under two names (有's 月 and 能's ⺼, 是's 日 and 电's 曰), so its shape cannot tell them."""
    found: set[str] = set()
    items = sorted(examples.items())
    for i, (_, (a, ra)) in enumerate(items):
        for _, (b, rb) in items[i + 1 :]:
            d = distance(a, b)
            if ra != rb and d is not None and d <= MATCH_DISTANCE:
                found |= {ra, rb}
    return frozenset(found)


def match_radical(
    target: Component,
    examples: Mapping[str, tuple[Component, str]],
    ambiguous: frozenset[str] = frozenset(),
) -> tuple[str, str] | None:
    """(radical, example character) whose radical strokes ``target``'s match, or None when no
    example is near enough, two radicals are about as near, or the nearest is ``ambiguous``."""
    ranked = sorted(
        (d, radical, char)
        for char, (comp, radical) in examples.items()
        if char != target.char and (d := distance(target, comp)) is not None
    )
    if not ranked or ranked[0][0] > MATCH_DISTANCE or ranked[0][1] in ambiguous:
        return None
    best, radical, char = ranked[0]
    if any(d < best + MATCH_MARGIN for d, other, _ in ranked if other != radical):
        return None
    return radical, char


def radicals_from_strokes(
    chars: Iterable[str], known: Mapping[str, Radical], strokes: StrokeData
) -> dict[str, Radical]:
    """Radicals for ``chars`` (not in ``known``) read from the stroke data, where it is sure.

    Make Me a Hanzi's radStrokes mark the strokes that form a character's radical, but not
    which radical they are. A character whose radical strokes have the shape of those of a
    character with a known radical has that radical (语 like 说: 讠). A character that is
    itself a Kangxi radical and has no radical strokes marked is its own radical (气); the
    known characters are checked to bear that out. Anything else stays unknown.
    """
    examples: dict[str, tuple[Component, str]] = {}
    for char, found in known.items():
        if char in strokes:
            data = strokes[char]
            comp = component(data)
            if comp is not None:
                examples[char] = (comp, found.radical)
            elif not data.radical_strokes and char in KANGXI_RADICALS and found.radical != char:
                raise BuildError(f"{char} is a Kangxi radical but its radical is {found.radical}")
    ambiguous = confusable(examples)
    out: dict[str, Radical] = {}
    for char in chars:
        if char in known or char not in strokes:
            continue
        data = strokes[char]
        comp = component(data)
        if comp is None:
            if not data.radical_strokes and char in KANGXI_RADICALS:
                out[char] = Radical(char, "Kangxi radical")
            continue
        match = match_radical(comp, examples, ambiguous)
        if match is not None:
            out[char] = Radical(match[0], f"radStrokes as in {match[1]}")
    return out


def find_radicals(
    charset: str,
    lists: Sequence[tuple[str, Iterable[Mapping[str, Any]]]],
    strokes: StrokeData,
) -> dict[str, Radical]:
    """Every radical the lists give, then those the stroke data adds for ``charset``."""
    radicals = list_radicals(lists)
    return radicals | radicals_from_strokes(charset, radicals, strokes)


def _is_neutral(syllable: str) -> bool:
    return not re.search(r"[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ]", syllable)


def build_characters(
    words: Sequence[dict[str, Any]], radicals: Mapping[str, Radical] | None = None
) -> list[dict[str, Any]]:
    """One entry per character, in order of first appearance in the word list.

    A character that is itself a word takes that word's reading and gloss. Otherwise it is
    explained through the most common word containing it (lowest frequency rank, then list
    order), preferring a word where it keeps its own tone: 生 is taught as shēng (医生), not
    as the neutral sheng of 先生. Characters only ever met toneless (么, 们, 子) stay toneless.
    Radicals are ``radicals``' (see find_radicals), by default only those the words give.
    """
    if radicals is None:
        radicals = list_radicals([("", words)])
    by_hanzi = {w["hanzi"]: w for w in words}
    order: list[str] = []
    containing: dict[str, list[dict[str, Any]]] = {}
    for w in words:
        for char in dict.fromkeys(w["hanzi"]):
            if char not in containing:
                order.append(char)
                containing[char] = []
            containing[char].append(w)

    characters: list[dict[str, Any]] = []
    for char in order:
        holders = containing[char]
        if char in by_hanzi:
            own = by_hanzi[char]
            pinyin, meaning = own["pinyin"], "; ".join(own["meanings"])
        else:
            ranked = sorted(
                holders,
                key=lambda w: (_is_neutral(w["syllables"][w["hanzi"].index(char)]), w["frequency"]),
            )
            example = ranked[0]
            pinyin = example["syllables"][example["hanzi"].index(char)].lower()
            meaning = f"as in {example['hanzi']} ({example['pinyin']}): {example['meanings'][0]}"
        entry: dict[str, Any] = {
            "hanzi": char,
            "pinyin": pinyin,
            "meaning": meaning,
            "words": [w["hanzi"] for w in holders],
            "radical": "",
        }
        found = radicals.get(char)
        if found is not None:
            entry["radical"] = found.radical
            if found.origin:
                entry["radical_from"] = found.origin
        characters.append(entry)
    return characters


def build(
    source: Sequence[dict[str, Any]],
    *,
    radical_lists: Sequence[tuple[str, Sequence[dict[str, Any]]]] | None = None,
    strokes: StrokeData | None = None,
) -> dict[str, Any]:
    """The data file's content: words as taught, and the characters they are written with.

    ``radical_lists`` are (name, entries) of other word lists to take radicals from, and
    ``strokes`` the stroke data to match the rest against; by default the HSK 3.0 level 1 list
    and the committed HSK 1 stroke file.
    """
    if radical_lists is None:
        radical_lists = [(p.name, load_source(p)) for p in DEFAULT_RADICAL_LISTS]
    if strokes is None:
        strokes = StrokeData(HSK1_STROKES)
    words = build_words(source)
    charset = "".join(dict.fromkeys(ch for w in words for ch in w["hanzi"]))
    radicals = find_radicals(charset, [("", words), *radical_lists], strokes)
    characters = build_characters(words, radicals)
    for w in words:
        del w["syllables"]
    return {
        "level": LEVEL,
        "name": NAME,
        "source": SOURCE_NOTE,
        "licence": LICENCE_NOTE,
        "words": words,
        "characters": characters,
    }


def render(data: dict[str, Any]) -> str:
    """Compact JSON with one entry per line, so that reviews show per-word diffs."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    for key, value in data.items():
        if isinstance(value, list):
            items = ",\n".join(dump(item) for item in value)
            lines.append(f"{dump(key)}:[\n{items}\n],")
        else:
            lines.append(f"{dump(key)}:{dump(value)},")
    lines[-1] = lines[-1].rstrip(",")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument(
        "--radicals-from",
        type=Path,
        action="append",
        help="another word list to take radicals from (repeatable; default: the HSK 3.0 one)",
    )
    parser.add_argument("--strokes", type=Path, default=HSK1_STROKES, help="stroke data JSON")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output is stale")
    args = parser.parse_args(argv)
    lists: list[Path] = args.radicals_from or list(DEFAULT_RADICAL_LISTS)
    try:
        text = render(
            build(
                load_source(args.source),
                radical_lists=[(p.name, load_source(p)) for p in lists],
                strokes=StrokeData(args.strokes),
            )
        )
    except (BuildError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
