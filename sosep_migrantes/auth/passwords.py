"""Password rules (issue #10, item 2): a length, then how easily the password is guessed.

:func:`password_problem` gives the first problem of a password as a Spanish sentence, or ``None``:

1. fewer than :data:`MIN_LENGTH` or more than :data:`MAX_LENGTH` characters;
2. built on the account's own words (the ``context``) or on :data:`INSTITUTION_WORDS`, with little else:
   what is left once those words are cut out scores below 3 on its own ('Maria.Lopez!', 'Sosep.2026!',
   which zxcvbn alone passes: it takes each piece for a further guess multiplier);
3. a zxcvbn score below :data:`MIN_SCORE` (3: at least 10⁸ guesses, "safely unguessable" behind Argon2),
   told by the weakness that dominates zxcvbn's cheapest reading of it: the account's words, repetitions
   and sequences (``aaaa``, ``1234``, keyboard rows) over half of it, a common password (zxcvbn's 30,000
   or :data:`SPANISH_WORDS`), or otherwise easy to guess.

zxcvbn (dwolfhub/zxcvbn-python) brings the word lists, the pattern matchers (spatial, sequence, regex,
date), the guesses of each match and the score thresholds. Its entry point ``zxcvbn.zxcvbn()`` is not
called, for two reasons measured on 4.5.0:

- its cost explodes on some inputs: the l33t matcher re-scans every substring once per combination of
  substitutions (hundreds for a password of ``4@8(3691!|70$5+%2``-like characters: 0.6 s at 40
  characters, 4 s at 72), and the search for the cheapest sequence of matches is quadratic in the length
  times the square of the number of sequence lengths kept, in Decimal arithmetic (0.35 s for a
  repetitive 128-character password). A few such submissions would keep a server's two cores busy;
- it puts the caller's words in a module-level dictionary for the length of the call, so two threads
  checking two passwords at once may see each other's words.

So the matching is done here with zxcvbn's own pieces and three bounded matchers (dictionary: substrings
no longer than the longest word, and none whose first 3 or 4 letters start no word; l33t: each
substitution character read as one letter at a time, at most 8 readings since only ``1``, ``|`` and
``7`` stand for two letters, and backwards too, which zxcvbn does not do; repeat: its base matched here,
not by zxcvbn's global matcher), with the caller's words in a dictionary of the call and the Spanish
words in one more list. And the cheapest reading is searched only among those that could score below 3:
zxcvbn adds 10^(4(m - 1)) guesses for m matches (10⁸, the limit itself, for a third) and counts 10ᴺ for N
characters matched by nothing, so a weak password is read as at most 3 matches with at most 8 unmatched
characters in a row. That search is linear in the length: a 128-character password is judged in
milliseconds whatever it holds. With the same words, the verdict (score below 3 or not), the score of a
weak password and its reading are zxcvbn's (tests/auth/test_passwords.py compares them on 400
passwords).
"""

from __future__ import annotations

import bisect
import importlib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l

# zxcvbn ships no type information (typeshed's stubs are not a dependency): its modules are taken as
# ``Any`` and what is read from them is converted at this boundary.
_matching: Any = importlib.import_module("zxcvbn.matching")
_scoring: Any = importlib.import_module("zxcvbn.scoring")
_time_estimates: Any = importlib.import_module("zxcvbn.time_estimates")

MIN_LENGTH = 10
MAX_LENGTH = 128
#: zxcvbn's scale: 0 below 10³ guesses, 1 below 10⁶, 2 below 10⁸, 3 below 10¹⁰, 4 beyond.
MIN_SCORE = 3

# The catalogue's sentence of the earlier rule, its {min} filled in by password_problem.
TOO_SHORT = _l("La contraseña debe tener al menos {min} caracteres.")
TOO_LONG = _l("La contraseña puede tener como máximo 128 caracteres.")
COMMON = _l("Esa contraseña es de las más usadas; elija otra.")
PERSONAL = _l("La contraseña no puede basarse en su nombre o su usuario.")
PATTERN = _l("Evite repeticiones y secuencias como aaaa o 1234.")
GUESSABLE = _l("La contraseña es fácil de adivinar: use una frase de varias palabras.")

# Words passwords in Guatemala are often built on, the likeliest first (the order is the rank zxcvbn
# counts guesses with): zxcvbn's lists are English, without 'contraseña', 'chapin' or 'quetzal'. The
# forms without accents are added where the lists are built.
SPANISH_WORDS: tuple[str, ...] = (
    "contraseña",
    "clave",
    "teamo",
    "tequiero",
    "guatemala",
    "sosep",
    "migrante",
    "migrantes",
    "usuario",
    "administrador",
    "admin",
    "secreto",
    "hola",
    "amor",
    "amorcito",
    "miamor",
    "corazón",
    "princesa",
    "mariposa",
    "estrella",
    "ángel",
    "angelito",
    "bonita",
    "hermosa",
    "chiquita",
    "familia",
    "dios",
    "diosteama",
    "jesús",
    "jesucristo",
    "cristo",
    "maría",
    "virgen",
    "fútbol",
    "chapín",
    "chapina",
    "chapines",
    "quetzal",
    "quetzales",
    "tikal",
    "xela",
    "xelajú",
    "municipal",
    "comunicaciones",
    "rojos",
    "cremas",
    "barcelona",
    "madrid",
    "realmadrid",
    "américa",
    "méxico",
    "estados",
    "unidos",
    "retorno",
    "retornado",
    "retornados",
    "deportado",
    "bienvenido",
    "bienvenida",
    "acceso",
    "entrar",
    "sistema",
    "gobierno",
    "secretaría",
    "presidencia",
    "obras",
    "sociales",
    "esposa",
    "esposo",
    "mamá",
    "papá",
    "mamita",
    "papito",
    "abuela",
    "abuelo",
    "hijo",
    "hija",
    "hijos",
    "perro",
    "perrito",
    "gato",
    "gatito",
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "navidad",
    # The 22 departments (Guatemala is above) and some of the largest towns.
    "mixco",
    "villanueva",
    "antigua",
    "quetzaltenango",
    "huehuetenango",
    "escuintla",
    "petén",
    "cobán",
    "zacapa",
    "chiquimula",
    "jutiapa",
    "jalapa",
    "mazatenango",
    "retalhuleu",
    "sololá",
    "totonicapán",
    "chimaltenango",
    "sacatepéquez",
    "izabal",
    "progreso",
    "santarosa",
    "altaverapaz",
    "bajaverapaz",
    "suchitepéquez",
    "sanmarcos",
    "quiché",
    "puertobarrios",
)

#: The institution's and the country's names: a password made of them and little else is refused even
#: when zxcvbn passes it (SOSEP-migrantes-2026). They are in :data:`SPANISH_WORDS` too.
INSTITUTION_WORDS: tuple[str, ...] = (
    "sosep",
    "migrante",
    "migrantes",
    "guatemala",
    "guate",
    "chapín",
    "chapina",
    "retorno",
    "retornado",
    "retornados",
    "contraseña",
    "clave",
    "usuario",
)

Match = dict[str, Any]


def password_problem(password: str, *, context: Sequence[str] = ()) -> str | None:
    """The first problem of ``password`` as a Spanish sentence (in the request's language), or ``None``.

    ``context``: the account's own words (user name, full name, e-mail address...). A password built on
    any of them (the word itself, reversed, with l33t substitutions, with digits, a year or symbols around,
    two of them joined: whatever is left once they are cut out scores below 3) is refused with
    :data:`PERSONAL`, and one built on :data:`INSTITUTION_WORDS` (SOSEP, migrantes, Guatemala...) with
    :data:`COMMON`; those need not be passed.
    """
    password = unicodedata.normalize("NFC", password)  # ñ typed as n + combining tilde is one character
    if len(password) < MIN_LENGTH:
        return str(TOO_SHORT).format(min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return str(TOO_LONG)
    user_ranks = _ranks(_context_words(context))
    matches = _omnimatch(password, user_ranks, depth=0)
    if (built_on := _built_on(password, matches, user_ranks)) is not None:
        return str(built_on)
    weakness = _cheapest_sequence(password, matches)
    if weakness is None:
        return None
    return str(_describe(password, weakness[1]))


def weak_score(password: str, *, context: Sequence[str] = ()) -> int | None:
    """zxcvbn's score of a weak password (0, 1 or 2), ``None`` for one that scores 3 or more."""
    password = unicodedata.normalize("NFC", password)
    if len(password) > MAX_LENGTH:
        raise ValueError(f"a password of more than {MAX_LENGTH} characters")
    weakness = _weakest_reading(password, _context_words(context))
    return None if weakness is None else int(_time_estimates.guesses_to_score(weakness[0]))


# ---- the message


_RUN_KINDS = frozenset({"repeat", "sequence", "spatial"})
# Keyboards for runs: zxcvbn's QWERTY and numeric keypad (its Dvorak graph finds runs in plain words).
_RUN_GRAPHS = {name: _matching.GRAPHS[name] for name in ("qwerty", "keypad")}


def _built_on(password: str, matches: Iterable[Match], user_ranks: Mapping[str, int]) -> Any:
    """:data:`PERSONAL` or :data:`COMMON` when the password is the account's or the institution's words
    and little else: what is left once they are cut out scores below 3 on its own. zxcvbn alone counts
    every piece of 'Maria.Lopez!' or 'SOSEP-migrantes-2026' as a further guess multiplier and passes them."""
    own = [
        m
        for m in matches
        if m["pattern"] == "dictionary"
        and (
            m["dictionary_name"] == "user_inputs"
            or (m["dictionary_name"] == "spanish" and m["matched_word"] in _INSTITUTION)
        )
    ]
    if not own:
        return None
    covered: set[int] = set()
    for match in own:
        covered.update(range(int(match["i"]), int(match["j"]) + 1))
    rest = "".join(c for k, c in enumerate(password) if k not in covered)
    if rest and _cheapest_sequence(rest, _omnimatch(rest, user_ranks, depth=0)) is None:
        return None
    return PERSONAL if any(m["dictionary_name"] == "user_inputs" for m in own) else COMMON


def _describe(password: str, sequence: Sequence[Match]) -> Any:
    """The account's words wherever they are; else runs over half the password; else a common password;
    else only the advice of a longer phrase."""
    dictionaries = {m.get("dictionary_name") for m in sequence if m["pattern"] == "dictionary"}
    if "user_inputs" in dictionaries:
        return PERSONAL
    in_runs: set[int] = set()
    for match in sequence:
        if match["pattern"] in _RUN_KINDS or (
            match.get("dictionary_name") == "passwords" and _mostly_runs(str(match["token"]))
        ):
            in_runs.update(range(int(match["i"]), int(match["j"]) + 1))
    if len(in_runs) * 2 >= len(password):
        return PATTERN
    if dictionaries & {"passwords", "spanish"}:
        return COMMON
    return GUESSABLE


def _mostly_runs(token: str) -> bool:
    """Whether runs of 3 or more (aaa, 1234, 9753, qwer) cover 80 % of a common password: 1234567890,
    qwertyuiop, asdfghjkl1 are in zxcvbn's list, but the advice they need is about runs."""
    covered: set[int] = set()
    for match in itertools.chain(
        _repeat_matches(token, {}, _MAX_DEPTH),
        _matching.sequence_match(token),
        _matching.spatial_match(token, _graphs=_RUN_GRAPHS),
    ):
        start, end = int(match["i"]), int(match["j"])
        if end - start >= 2:
            covered.update(range(start, end + 1))
    return len(covered) * 5 >= len(token) * 4


# ---- the cheapest reading among those that score below 3 (zxcvbn's scoring.most_guessable_match_sequence)

# Fewer guesses than this score 2 or less (zxcvbn's time_estimates.guesses_to_score).
_LIMIT = 1e8 + 5
# zxcvbn adds MIN_GUESSES_BEFORE_GROWING_SEQUENCE^(matches - 1) guesses: 10⁸ for a 3rd match, the limit.
_MAX_MATCHES = 3
_MAX_UNMATCHED = 8  # BRUTEFORCE_CARDINALITY⁹ = 10⁹ guesses
_FACTORIAL = (1, 1, 2, 6)


def _ranks(words: Sequence[str]) -> dict[str, int]:
    return {word: rank for rank, word in enumerate(words, 1)}


def _weakest_reading(password: str, user_words: Sequence[str]) -> tuple[float, list[Match]] | None:
    user_ranks = _ranks(user_words)
    return _cheapest_sequence(password, _omnimatch(password, user_ranks, depth=0))


def _cheapest_sequence(password: str, matches: Iterable[Match]) -> tuple[float, list[Match]] | None:
    """zxcvbn's guesses and sequence of matches for ``password`` when they are below :data:`_LIMIT`;
    ``None`` when every reading takes more (score 3 or 4)."""
    n = len(password)
    growing = float(_scoring.MIN_GUESSES_BEFORE_GROWING_SEQUENCE)
    ending_at: list[list[tuple[int, float, Match]]] = [[] for _ in range(n)]
    for match in matches:
        guesses = float(_scoring.estimate_guesses(match, password))
        if guesses < _LIMIT:
            ending_at[int(match["j"])].append((int(match["i"]), guesses, match))
    for candidates in ending_at:
        candidates.sort(key=lambda c: c[0])
    # best[k][length] = (product of the guesses, last match) of the cheapest sequence of that many
    # matches covering password[: k + 1].
    best: list[dict[int, tuple[float, Match]]] = [{} for _ in range(n)]

    def extend(k: int, start: int, guesses: float, match: Match) -> None:
        before = best[start - 1].items() if start else [(0, (1.0, match))]
        for length, (product, _) in list(before):
            count, total = length + 1, product * guesses
            if count > _MAX_MATCHES or _FACTORIAL[count] * total + growing ** (count - 1) >= _LIMIT:
                continue
            kept = best[k].get(count)
            if kept is None or total < kept[0]:
                best[k][count] = (total, match)

    for k in range(n):
        for start, guesses, match in ending_at[k]:
            extend(k, start, guesses, match)
        # Characters matched by nothing: zxcvbn's bruteforce matches, at most _MAX_UNMATCHED long.
        for start in range(max(0, k - _MAX_UNMATCHED + 1), k + 1):
            size = k - start + 1
            guesses = float(
                max(_scoring.BRUTEFORCE_CARDINALITY**size, _scoring.MIN_SUBMATCH_GUESSES_SINGLE_CHAR + 1)
            )
            brute = {"pattern": "bruteforce", "token": password[start : k + 1], "i": start, "j": k}
            extend(k, start, guesses, brute)
    totals = {
        count: _FACTORIAL[count] * product + growing ** (count - 1)
        for count, (product, _) in best[n - 1].items()
    }
    if not totals:
        return None
    count = min(totals, key=lambda c: (totals[c], c))
    sequence: list[Match] = []
    k = n - 1
    while k >= 0:
        match = best[k][count][1]
        sequence.insert(0, match)
        k, count = int(match["i"]) - 1, count - 1
    return totals[min(totals, key=lambda c: (totals[c], c))], sequence


# ---- matching (zxcvbn's matching.omnimatch)

# A repeat is scored by matching its base ('abc' in 'abcabcabc'), which may hold a repeat in turn: zxcvbn
# does not bound that; two levels are plenty.
_MAX_DEPTH = 2


def _omnimatch(password: str, user_ranks: Mapping[str, int], depth: int) -> list[Match]:
    matches: list[Match] = []
    matches.extend(_dictionary_matches(password, user_ranks))
    matches.extend(_reversed_dictionary_matches(password, user_ranks))
    matches.extend(_l33t_matches(password, user_ranks))
    matches.extend(_matching.spatial_match(password))
    matches.extend(_repeat_matches(password, user_ranks, depth))
    matches.extend(_matching.sequence_match(password))
    matches.extend(_matching.regex_match(password))
    matches.extend(_matching.date_match(password))
    return matches


def _unaccented(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _with_unaccented(words: Iterable[str]) -> list[str]:
    """The words, each followed by its form without accents or tilde where it differs (contrasena)."""
    result: list[str] = []
    for word in words:
        result.append(word)
        if (plain := _unaccented(word)) != word:
            result.append(plain)
    return result


def _dictionaries() -> list[tuple[str, Mapping[str, int]]]:
    """zxcvbn's ranked lists (word → rank) and :data:`SPANISH_WORDS`'."""
    # 'user_inputs' is left there by any call of zxcvbn.zxcvbn(): never someone else's words.
    lists: list[tuple[str, Mapping[str, int]]] = [
        (str(name), ranks) for name, ranks in _matching.RANKED_DICTIONARIES.items() if name != "user_inputs"
    ]
    spanish = _with_unaccented(dict.fromkeys((*SPANISH_WORDS, *INSTITUTION_WORDS)))
    lists.append(("spanish", {word: rank for rank, word in enumerate(spanish, 1)}))
    return lists


_DICTIONARIES = _dictionaries()
_INSTITUTION = frozenset(_with_unaccented(INSTITUTION_WORDS))
# One look-up per substring in the union, the lists themselves only on a hit.
_ALL_WORDS: frozenset[str] = frozenset().union(*(ranks.keys() for _, ranks in _DICTIONARIES))
_LONGEST_WORD = max(map(len, _ALL_WORDS))
# The first 3 and 4 letters of every word: a substring whose start is not among them starts no word, and
# the search from that position stops there (28,000 strings; most positions stop at 3 or 4 characters).
_STEM_SIZES = (3, 4)
_STEMS: frozenset[str] = frozenset(word[:size] for word in _ALL_WORDS for size in _STEM_SIZES)


def _dictionary_matches(
    password: str, user_ranks: Mapping[str, int], covering: Sequence[int] | None = None
) -> Iterator[Match]:
    """zxcvbn's dictionary matcher over the substrings no longer than the longest word; with ``covering``
    (sorted positions), only over the substrings that hold one of them."""
    longest = max(_LONGEST_WORD, max(map(len, user_ranks), default=0))
    user_stems = {word[:size] for word in user_ranks for size in _STEM_SIZES}
    lower = password.lower()
    length = len(password)
    for i in range(length):
        first = i
        if covering is not None:
            index = bisect.bisect_left(covering, i)
            if index == len(covering):
                break
            first = covering[index]
        for j in range(first, min(length, i + longest)):
            piece = lower[i : j + 1]
            if j - i + 1 in _STEM_SIZES and piece not in _STEMS and piece not in user_stems:
                break
            found: list[tuple[str, int]] = []
            if piece in _ALL_WORDS:
                found = [(name, ranks[piece]) for name, ranks in _DICTIONARIES if piece in ranks]
            if piece in user_ranks:
                found.append(("user_inputs", user_ranks[piece]))
            for name, rank in found:
                yield {
                    "pattern": "dictionary",
                    "i": i,
                    "j": j,
                    "token": password[i : j + 1],
                    "matched_word": piece,
                    "rank": rank,
                    "dictionary_name": name,
                    "reversed": False,
                    "l33t": False,
                }


def _reversed(matches: Iterable[Match], password: str) -> Iterator[Match]:
    """Matches found in the reversed password, placed back on ``password``."""
    last = len(password) - 1
    for match in matches:
        i, j = last - match["j"], last - match["i"]
        yield match | {"i": i, "j": j, "token": password[i : j + 1], "reversed": True}


def _reversed_dictionary_matches(password: str, user_ranks: Mapping[str, int]) -> Iterator[Match]:
    return _reversed(_dictionary_matches(password[::-1], user_ranks), password)


_L33T_TABLE: dict[str, list[str]] = {
    str(letter): [str(sub) for sub in subs] for letter, subs in _matching.L33T_TABLE.items()
}


def _l33t_matches(password: str, user_ranks: Mapping[str, int]) -> Iterator[Match]:
    """zxcvbn's l33t matcher (p4ssw0rd), forwards and, beyond zxcvbn, backwards (n0itpecer: reception).

    Each substitution character is read as one letter at a time ('1' as i, then as l): at most 2³
    readings of the password. The first reading is searched in the substrings holding a substitution,
    the others only in those holding a character of two readings."""
    letters: dict[str, list[str]] = {}
    for letter, subs in _L33T_TABLE.items():
        for sub in subs:
            if sub in password:
                letters.setdefault(sub, []).append(letter)
    if not letters:
        return
    chars = sorted(letters)
    last = len(password) - 1
    everywhere = [k for k, c in enumerate(password) if c in letters]
    ambiguous = [k for k, c in enumerate(password) if len(letters.get(c, ())) > 1]
    seen: set[tuple[int, int, str, str, bool]] = set()
    for number, choice in enumerate(itertools.product(*(letters[c] for c in chars))):
        reading = dict(zip(chars, choice, strict=True))
        translated = "".join(reading.get(c, c) for c in password)
        positions = everywhere if number == 0 else ambiguous
        backwards = [last - k for k in reversed(positions)]
        for match in itertools.chain(
            _dictionary_matches(translated, user_ranks, positions),
            _reversed(_dictionary_matches(translated[::-1], user_ranks, backwards), translated),
        ):
            i, j = match["i"], match["j"]
            token = password[i : j + 1]
            plain = token.lower()[::-1] if match["reversed"] else token.lower()
            if len(token) < 2 or plain == match["matched_word"]:
                continue  # no substitution in it: the plain dictionary matchers have it
            key = (i, j, match["dictionary_name"], match["matched_word"], match["reversed"])
            if key in seen:
                continue
            seen.add(key)
            used = {c: letter for c, letter in reading.items() if c in token}
            yield match | {
                "token": token,
                "l33t": True,
                "sub": used,
                "sub_display": ", ".join(f"{c} -> {letter}" for c, letter in used.items()),
            }


_GREEDY = re.compile(r"(.+)\1+", re.DOTALL)
_LAZY = re.compile(r"(.+?)\1+", re.DOTALL)
_LAZY_ANCHORED = re.compile(r"^(.+?)\1+$", re.DOTALL)


def _repeat_matches(password: str, user_ranks: Mapping[str, int], depth: int) -> list[Match]:
    """zxcvbn's repeat matcher (aaaa, abcabc), its base matched and scored here with the same words. A
    base that scores 3 or more is left out: its repeat cannot make the password weak."""
    matches: list[Match] = []
    last_index = 0
    while last_index < len(password):
        greedy = _GREEDY.search(password, last_index)
        lazy = _LAZY.search(password, last_index)
        if greedy is None or lazy is None:
            break
        if len(greedy.group(0)) > len(lazy.group(0)):
            match = greedy
            anchored = _LAZY_ANCHORED.search(match.group(0))
            base = anchored.group(1) if anchored else match.group(1)
        else:
            match = lazy
            base = match.group(1)
        i, j = match.start(), match.end() - 1
        last_index = j + 1
        inner = _omnimatch(base, user_ranks, depth + 1) if depth < _MAX_DEPTH else []
        analysis = _cheapest_sequence(base, inner)
        if analysis is None:
            continue
        matches.append(
            {
                "pattern": "repeat",
                "i": i,
                "j": j,
                "token": match.group(0),
                "base_token": base,
                "base_guesses": Decimal(analysis[0]),
                "base_matches": analysis[1],
                "repeat_count": len(match.group(0)) / len(base),
            }
        )
    return matches


# ---- the account's words

# Shorter words of an account ('de' in a name) would be found in most passwords.
_MIN_WORD = 3
_LETTERS = re.compile(r"[^\W\d_]+")


def _context_words(context: Sequence[str]) -> tuple[str, ...]:
    """The account's words as zxcvbn's 'user_inputs': each value whole (and without its spaces), its runs
    of letters (the words of a name, 'reception' in 'reception1', the parts of an e-mail address), with
    and without accents, in the order given."""
    ordered: dict[str, None] = {}
    for value in context:
        lower = value.strip().lower()
        for candidate in _with_unaccented([lower, re.sub(r"\s+", "", lower), *_LETTERS.findall(lower)]):
            if len(candidate) >= _MIN_WORD:
                ordered.setdefault(candidate, None)
    return tuple(ordered)
