"""Spanish phonetic keys of a person's name, for finding earlier records of the same person (issue #12).

Returned migrants come back, sometimes more than once, and their names are typed each time by someone
else, at another centre: "Yesenia Velásquez Xol" may come back as "Llesenia Belasquez Jol", or with the
surnames in another order, or with a typo. This module turns a name into keys that such variants share:

- :func:`phonetic` folds a word (accents, case) and writes it as it sounds in Guatemalan Spanish: b/v,
  s/z/c before e and i, ll/y, a silent h, qu/k/c before a, o and u, gu/g before e and i, g/j before e and i,
  x/j, doubled letters;
- :func:`skeleton` keeps the first sound and the consonants: a vowel typed wrong or left out
  ("Lopz", "Lopes") keeps the key;
- :func:`member_keys` are the keys a member is found by, stored in ``member_keys`` (btree-indexed):
  a *pair* key for each given name and surname (in alphabetical order, so the surnames' order and
  even the two fields swapped do not matter) with the year of birth, and a *word* key for the first given
  name and the first surname with the full date of birth, when it is known (a typo in the other words
  still finds the person: the look-up tries every word typed);
- :func:`lookup_keys` are the keys to look up for a person being typed: the same, over the years of
  birth that the typed date of birth or age allows;
- :func:`name_similarity` and :func:`compatible_age` decide, in Python, which of the rows found are
  candidates: the same decision on SQLite and PostgreSQL.

Pure functions of the values: the bulk generator and the migration's backfill compute the same keys.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from ..core.text import fold
from ..core.timeutil import age_on


class MemberKeyKind(enum.StrEnum):
    #: A given name and a surname (skeletons, in alphabetical order) and the year of birth.
    PAIR_YEAR = "pair_year"
    #: One name word (skeleton) and the full date of birth.
    WORD_BIRTH = "word_birth"


#: Words that join surnames ("de León", "de la Cruz") and say nothing about the person.
PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "do", "dos", "van", "von"})
#: How many given names and surnames make keys (the first ones: the ones people keep).
KEY_WORDS = 2
#: Below this :func:`name_similarity` two names are not the same person's.
SIMILAR_NAME = 0.75

_NOT_LETTER = re.compile(r"[^a-z]+")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"ph", "f"),
        (r"ch", "C"),  # its own sound: kept apart from c and h
        (r"sh", "j"),  # Mayan x (Xol, Shol)
        (r"ll", "y"),
        (r"qu(?=[ei])", "k"),
        (r"q", "k"),
        (r"gu(?=[ei])", "G"),  # hard g: Guillermo, Miguel
        (r"g(?=[ei])", "j"),  # Jiménez, Giménez
        (r"G", "g"),
        (r"c(?=[ei])", "s"),
        (r"c", "k"),
        (r"z", "s"),
        (r"x", "j"),
        (r"v", "b"),
        (r"w", "u"),
        (r"h", ""),
        (r"y(?![aeiou])", "i"),  # Godoy, Ysabel
        (r"(.)\1+", r"\1"),
        (r"C", "c"),  # every other c is s or k by now
    )
)
_VOWELS = re.compile(r"[aeiou]")


def name_words(text: str | None) -> list[str]:
    """The folded words of a name, without particles: "de la Cruz  Pérez" -> ["cruz", "perez"]."""
    return list(_name_words(text or ""))


@lru_cache(maxsize=65536)
def _name_words(text: str) -> tuple[str, ...]:
    return tuple(w for w in _NOT_LETTER.split(fold(text)) if w and w not in PARTICLES)


@lru_cache(maxsize=65536)
def phonetic(word: str) -> str:
    """A folded word as it sounds: "velasquez" -> "belaskes", "llesenia" -> "yesenia", "xol" -> "jol"."""
    code = word
    for pattern, replacement in _RULES:
        code = pattern.sub(replacement, code)
    return code


@lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """The first sound of :func:`phonetic` and its consonants: "lopez", "lopes", "lopz" -> "lps"."""
    code = phonetic(word)
    return code[:1] + _VOWELS.sub("", code[1:])


def _pair(a: str, b: str) -> str:
    return f"{a} {b}" if a <= b else f"{b} {a}"


def _pairs(given: list[str], surnames: list[str]) -> set[str]:
    return {_pair(skeleton(g), skeleton(s)) for g in given[:KEY_WORDS] for s in surnames[:KEY_WORDS]}


def birth_year(birth_date: dt.date | None, estimated_age: int | None, arrived_on: dt.date) -> int | None:
    """The year of birth a member is keyed by: the date's, or the arrival's year minus the estimated age
    (the true year is that one or the one before)."""
    if birth_date is not None:
        return birth_date.year
    if estimated_age is not None:
        return arrived_on.year - estimated_age
    return None


def name_key(given_names: str | None, surnames: str | None) -> str:
    """The whole name's :func:`name_words`, given names first: "María Elena de León" -> "maria elena leon".

    Stored beside each key, so the search decides on the name (:func:`name_similarity`) from the index
    alone and reads only the members whose name may be the person's."""
    return " ".join(name_words(given_names) + name_words(surnames))


def name_part(text: str | None) -> tuple[tuple[str, ...], str]:
    """What the keys take of one field (the given names, or the surnames): the skeletons of its first
    words and its :func:`name_words` joined."""
    words = name_words(text)
    return tuple(skeleton(word) for word in words[:KEY_WORDS]), " ".join(words)


def combine(
    given: tuple[tuple[str, ...], str], surnames: tuple[tuple[str, ...], str]
) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """The pairs, the words (the first given name's and the first surname's skeletons) and the
    :func:`name_key` of a name, from its two fields' :func:`name_part`."""
    pairs = {_pair(a, b) for a in given[0] for b in surnames[0]}
    words = tuple(dict.fromkeys(given[0][:1] + surnames[0][:1]))
    return tuple(sorted(pairs)), words, " ".join(text for text in (given[1], surnames[1]) if text)


def key_parts(given_names: str | None, surnames: str | None) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """:func:`combine` of the two fields. The bulk generator keeps each field's :func:`name_part`, so its
    keys are :func:`member_keys`'s at its speed."""
    return combine(name_part(given_names), name_part(surnames))


def member_keys(
    given_names: str | None,
    surnames: str | None,
    birth_date: dt.date | None,
    estimated_age: int | None,
    arrived_on: dt.date,
) -> set[tuple[MemberKeyKind, str]]:
    """The keys a member is found by (none for an anonymised member: no names, no date of birth)."""
    pairs, words, _name = key_parts(given_names, surnames)
    year = birth_year(birth_date, estimated_age, arrived_on)
    keys: set[tuple[MemberKeyKind, str]] = set()
    if year is not None:
        keys.update((MemberKeyKind.PAIR_YEAR, f"{pair} {year}") for pair in pairs)
    if birth_date is not None:
        day = birth_date.isoformat()
        keys.update((MemberKeyKind.WORD_BIRTH, f"{word} {day}") for word in words)
    return keys


def typed_birth_years(birth_date: dt.date | None, age: int | None, on: dt.date) -> range:
    """The years a stored member's key may carry if it is the person typed (see :func:`compatible_age`):
    its true year of birth within a year or two of the typed one (an age is counted in whole years), and an
    estimated age's key a year later."""
    if birth_date is not None:
        low = high = birth_date.year
    elif age is not None:
        low, high = on.year - age - 1, on.year - age
    else:
        return range(0)
    return range(low - 2, high + 3)


def lookup_keys(
    given_names: str | None, surnames: str | None, birth_date: dt.date | None, age: int | None, on: dt.date
) -> list[str]:
    """The keys to look up for a person typed on ``on`` (the arrival's day): nothing without a name
    (two words at least) and a date of birth or an age."""
    given, family = name_words(given_names), name_words(surnames)
    words = given + family
    if len(words) < 2:  # a given name and a surname at least
        return []
    if not given or not family:  # one field left empty: every pair of the words typed
        given, family = words[:1], words[1:]
    keys = {
        f"{pair} {year}" for pair in _pairs(given, family) for year in typed_birth_years(birth_date, age, on)
    }
    if birth_date is not None:
        day = birth_date.isoformat()
        keys.update(f"{skeleton(word)} {day}" for word in given[:KEY_WORDS] + family[:KEY_WORDS])
    return sorted(keys)


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (names are short)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@lru_cache(maxsize=262144)
def word_similarity(a: str, b: str) -> float:
    """1 for the same folded word, 0.95 for the same sound, less for a typo, 0 for another word."""
    if a == b:
        return 1.0
    pa, pb = phonetic(a), phonetic(b)
    if pa == pb:
        return 0.95
    ratio = 1 - _distance(pa, pb) / max(len(pa), len(pb))
    return ratio if ratio >= 0.6 else 0.0


def name_similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """How alike two names are (their :func:`name_words`), in any order, from 0 to 1.

    Each word of the shorter name is paired with the most similar word left of the other; a name with
    fewer words ("María López" for "María Elena López Pérez") loses a little, not everything.
    """
    return _similarity(list(a), list(b), word_similarity)


def _similarity(a: list[str], b: list[str], similar: Callable[[str, str], float]) -> float:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if not small:
        return 0.0
    left = list(large)
    total = 0.0
    for word in small:
        scores = [similar(word, other) for other in left]
        best = max(scores)
        if best > 0:
            left.pop(scores.index(best))
        total += best
    return 0.85 * total / len(small) + 0.15 * len(small) / len(large)


def same_words(a: Iterable[str], b: Iterable[str]) -> bool:
    """The same folded words, in any order."""
    return sorted(a) == sorted(b)


def compatible_age(
    typed_birth: dt.date | None,
    typed_age: int | None,
    birth_date: dt.date | None,
    estimated_age: int | None,
    arrived_on: dt.date,
    on: dt.date,
) -> bool:
    """Whether a stored member (``birth_date`` or ``estimated_age`` at ``arrived_on``) may be the person
    typed on ``on``: the same date of birth when both are known (a different one is another person),
    else ages a year apart at most."""
    if typed_birth is not None and birth_date is not None:
        return typed_birth == birth_date
    if typed_birth is None and typed_age is None:
        return False
    wanted = typed_age if typed_birth is None else age_on(typed_birth, on)
    if birth_date is not None:
        then = age_on(birth_date, on)
    elif estimated_age is not None:
        then = estimated_age + max(0, (on - arrived_on).days // 365)
    else:
        return False
    return wanted is not None and abs(then - wanted) <= 1
