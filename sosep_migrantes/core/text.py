"""Text normalisation shared by search and catalogue look-ups."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
#: Control characters (NUL and friends) have no place in typed text; PostgreSQL refuses NUL outright.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_control(text: str) -> str:
    return _CONTROL.sub("", text)


def fold(text: str | None) -> str:
    """Lower-case, strip accents and squeeze spaces: 'José  Pérez' -> 'jose perez'.

    Search compares folded text on both sides, so it is accent- and case-insensitive and gives the
    same results on SQLite and PostgreSQL without database extensions.
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def clean(text: str | None) -> str | None:
    """Trim and squeeze spaces; empty strings become ``None``."""
    if text is None:
        return None
    text = _SPACES.sub(" ", text).strip()
    return text or None
