"""What the fuzz test (``test_fuzz.py``) sends: the forms and links a page offers, and hostile values.

:class:`PageScanner` reads a page's HTML as a browser would: each ``<form>`` (its action, method, the
fields it would submit as they stand, and the other values its selects, radios and checkboxes offer) and
each link's query string. :func:`hostile_value` draws what a person, a broken client or an attacker could
put in any of those fields instead: huge and negative integers, NUL and other control characters, very long
strings, bytes that are not UTF-8, impossible dates and time-zone offsets. :func:`encode` writes the pairs
as raw ``application/x-www-form-urlencoded`` bytes (percent-encoded or not), so invalid UTF-8 reaches the
server as it would from the network, which the test client's own encoding never sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote_from_bytes, urljoin, urlsplit

from hypothesis import strategies as st

Value = str | bytes


@dataclass
class Form:
    action: str
    method: str
    #: What the browser would submit untouched, in page order (checked boxes, selected options).
    pairs: list[tuple[str, str]] = field(default_factory=list)
    #: Every value the page offers per field (all options, unchecked boxes, buttons).
    choices: dict[str, set[str]] = field(default_factory=dict)
    #: Where the page's script also posts the form as it is being typed (``data-...-url`` attributes
    #: on the form or inside it: the desk's referral suggestions, the earlier records of a person).
    also_posted_to: list[str] = field(default_factory=list)

    def offer(self, name: str, value: str) -> None:
        self.choices.setdefault(name, set()).add(value)


class PageScanner(HTMLParser):
    """The forms and link query strings of one HTML page, with actions and links made absolute paths."""

    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.forms: list[Form] = []
        #: (path, query pairs) of each link that carries a query string.
        self.links: list[tuple[str, list[tuple[str, str]]]] = []
        self._form: Form | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: tuple[str | None, list[str]] | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def _path(self, href: str) -> str:
        return urlsplit(urljoin(self.url, href)).path

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(self._path(a.get("action") or self.url), (a.get("method") or "get").upper())
            self.forms.append(self._form)
        if self._form is not None:
            for key, value in a.items():
                if key.startswith("data-") and key.endswith("-url") and value.startswith("/"):
                    self._form.also_posted_to.append(self._path(value))
        elif tag == "a" and "?" in a.get("href", ""):
            target = urljoin(self.url, a["href"])
            self.links.append(
                (urlsplit(target).path, parse_qsl(urlsplit(target).query, keep_blank_values=True))
            )
        if self._form is None or not a.get("name"):
            if tag == "option" and self._select is not None:
                self._option = (a.get("value"), [])
                self._select[1].append((a.get("value", ""), "selected" in a))
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            self._form.offer(name, value)
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.pairs.append((name, value))
            elif kind not in ("submit", "button", "reset", "image", "file"):
                self._form.pairs.append((name, value))
        elif tag == "button":
            self._form.offer(name, a.get("value", ""))
        elif tag == "select":
            self._select = (name, [])
        elif tag == "textarea":
            self._textarea = (name, [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        if self._option is not None:
            self._option[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "option" and self._option is not None and self._select is not None:
            value, text = self._option
            if value is None:  # <option>text</option> submits its text
                options = self._select[1]
                options[-1] = ("".join(text).strip(), options[-1][1])
            self._option = None
        elif tag == "select" and self._select is not None:
            name, options = self._select
            self._select = None
            if self._form is None:
                return
            for value, _selected in options:
                self._form.offer(name, value)
            chosen = [value for value, selected in options if selected] or [v for v, _ in options[:1]]
            self._form.pairs.extend((name, value) for value in chosen)
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self._textarea = None
            if self._form is not None:
                content = "".join(text).removeprefix("\n")
                self._form.offer(name, content)
                self._form.pairs.append((name, content))


def scan(url: str, html: str) -> PageScanner:
    scanner = PageScanner(url)
    scanner.feed(html)
    scanner.close()
    return scanner


# --- Hostile values ------------------------------------------------------------------------------

#: Written by hand: what a type's parser, a database driver or a column is most likely to trip on.
SPECIAL: tuple[Value, ...] = (
    # whole numbers beyond every column (PostgreSQL's integer is 32-bit, bigint 64-bit)
    "100000000000000000000",
    "-100000000000000000000",
    str(2**31),
    str(2**31 - 1),
    str(-(2**31) - 1),
    str(2**63),
    str(2**64),
    "-1",
    "0",
    "-0",
    "9" * 400,
    "1e309",
    "1.5",
    "NaN",
    "inf",
    "0x10",
    " 7 ",
    "٣٤",
    "²",
    # NUL and other control characters, alone and inside text
    "\x00",
    "a\x00b",
    "1\x00",
    "\x01\x02\x1b[31m\x7f",
    "\r\n\t\x0b\x0c",
    "\u200b\ufeff\u202e",
    "\x85\u2028\u2029",
    "\U0010ffff",
    # dates and times that do not exist, at the edges of the calendar, with odd offsets
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "2025-02-29",
    "9999-12-31",
    "0001-01-01",
    "0000-00-00",
    "10000-01-01",
    "-2026-11-24",
    "+002026-11-24",
    "2026-W48-2",
    "2026-11-24T10:00",
    "2026-11-24T10:00+14:00",
    "2026-11-24T10:00-12:00",
    "2026-11-24T10:00+99:00",
    "2026-11-24T10:00+23:59",
    "2026-11-24T10:00Z",
    "2026-11-24T24:00",
    "2026-11-24T23:59:60",
    "2026-11-24 10:00:00.123456789+05:45",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "9999-12-31T23:59+14:00",
    "0001-01-01T00:00-14:00",
    # text the rest of the stack might read as something else
    "",
    " ",
    "None",
    "null",
    "true",
    "[]",
    "{}",
    "%00",
    "%FF",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '=HYPERLINK("x")',
    "members-0-surnames",
    # bytes that are not UTF-8 (a lone 0xFF, a truncated sequence, an encoded surrogate, overlong NUL)
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"caf\xe9",
)

LONG_LENGTHS = (201, 4_001, 60_000)


def pick(options: tuple[str, ...] | list[str], default: str = "") -> st.SearchStrategy[str]:
    """One of ``options`` by position: the same kind of draw whatever their number (none included).

    The options come from the pages, which change as requests succeed (a new form token, one more
    saved row); a draw whose shape followed them would make hypothesis's replays inconsistent."""
    return st.integers(min_value=0, max_value=2**16).map(
        lambda i: options[i % len(options)] if options else default
    )


def hostile_value(offered: tuple[str, ...] = ()) -> st.SearchStrategy[Value]:
    """A value for one field: something the page offers, or something hostile (often built from it)."""
    real = pick(offered)
    return st.one_of(
        real,
        # What the page offers, spoiled: a NUL or a control character inside.
        st.tuples(real, st.sampled_from(("\x00", "\x1f", "\u202e", "\U0010ffff"))).map("".join),
        st.sampled_from(SPECIAL),
        st.integers(min_value=-(10**25), max_value=10**25).map(str),
        st.text(max_size=40),
        st.binary(max_size=24),
        st.tuples(st.sampled_from(("x", "9", "ñ", "\x00")), st.sampled_from(LONG_LENGTHS)).map(
            lambda pair: pair[0] * pair[1]
        ),
    )


def _bytes(value: Value) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def encode(pairs: list[tuple[Value, Value]], *, raw: bool = False) -> bytes:
    """``a=1&b=2`` as bytes: percent-encoded (``%FF``), or raw (the bytes themselves, ``&`` and ``=``
    inside a value left to split it as a careless client would)."""
    if raw:
        return b"&".join(_bytes(k) + b"=" + _bytes(v) for k, v in pairs)
    return b"&".join(
        quote_from_bytes(_bytes(k), safe="").encode() + b"=" + quote_from_bytes(_bytes(v), safe="").encode()
        for k, v in pairs
    )
