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

import csv
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote_from_bytes, urljoin, urlsplit

import xlsxwriter
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
    #: The names of its file inputs (the form is then sent as multipart/form-data).
    files: list[str] = field(default_factory=list)

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
            elif kind == "file":
                self._form.files.append(name)
            elif kind not in ("submit", "button", "reset", "image"):
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

#: Whole numbers beyond every column (PostgreSQL's integer is 32-bit, bigint 64-bit), and the ways a
#: number is written that ``int()``, ``float()`` or a database driver read differently.
NUMBERS: tuple[str, ...] = (
    "100000000000000000000",
    "-100000000000000000000",
    str(2**31),
    str(2**31 - 1),
    str(-(2**31) - 1),
    str(2**63),
    str(2**64),
    "999999999",
    "1000000000",
    "-1",
    "0",
    "-0",
    "000000000001",
    "9" * 400,
    "1e309",
    "1e3",
    "1.5",
    "NaN",
    "inf",
    "0x10",
    "+1",
    " 7 ",
    "٣٤",
    "²",
)
#: Days that do not exist, the calendar's edges (a day's arithmetic overflows there) and the service's
#: own bounds, in ISO and as staff type them (dd/mm/aaaa).
DATES: tuple[str, ...] = (
    "9999-12-31",
    "9999-12-30",
    "0001-01-01",
    "0001-01-02",
    "1900-01-01",
    "2013-12-31",
    "2014-01-01",
    "2100-12-31",
    "2101-01-01",
    "2024-02-29",
    "2025-02-29",
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "0000-00-00",
    "10000-01-01",
    "-2026-11-24",
    "+002026-11-24",
    "2026-W48-2",
    "31/12/9999",
    "01/01/0001",
    "30/02/2026",
    "2026-11-24T10:00",
)
#: Moments at the edges, with odd and impossible time-zone offsets.
MOMENTS: tuple[str, ...] = (
    "2026-11-24T10:00",
    "2026-11-24T10:00+14:00",
    "2026-11-24T10:00-12:00",
    "2026-11-24T10:00+99:00",
    "2026-11-24T10:00+23:59",
    "2026-11-24T10:00-00:01",
    "2026-11-24T10:00Z",
    "2026-11-24T24:00",
    "2026-11-24T23:59:60",
    "2026-11-24 10:00:00.123456789+05:45",
    "2026-11-24T10",
    "9999-12-31T23:59",
    "9999-12-31T18:00",
    "0001-01-01T00:00",
    "0001-01-01T05:59",
    "9999-12-31T23:59+14:00",
    "0001-01-01T00:00-14:00",
    "24/11/2026 10:00",
)
#: Anything: NUL and other control characters, text the rest of the stack might read as something else,
#: bytes that are not UTF-8 (a lone 0xFF, a truncated sequence, an encoded surrogate, an overlong NUL).
SPECIAL: tuple[Value, ...] = (
    "\x00",
    "a\x00b",
    "1\x00",
    "\x01\x02\x1b[31m\x7f",
    "\r\n\t\x0b\x0c",
    "\u200b\ufeff\u202e",
    "\x85\u2028\u2029",
    "\U0010ffff",
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
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"caf\xe9",
    *NUMBERS,
    *DATES,
    *MOMENTS,
)
#: What each kind of field gets more often than the rest.
BY_KIND: dict[str, tuple[Value, ...]] = {"number": NUMBERS, "date": DATES, "moment": MOMENTS, "text": SPECIAL}
#: A character inside what the page offers.
SPOILERS = ("\x00", "\x1f", "\u202e", "\U0010ffff")
LONG = (("x", 201), ("9", 4_001), ("ñ", 60_000), ("\x00", 4_001))

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$|_on$|_date$|^(from|to)$|-birth_date$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T|_at$")
_NUMBER = re.compile(r"^-?\d+$|(^|[-_])(id|ids|age|quantity|year|month|quarter|page|version|saved)$")


def kind_of(name: str, offered: tuple[str, ...] = ()) -> str:
    """'date', 'moment', 'number' or 'text', from the field's name or the values the page offers."""
    for pattern, kind in ((_MOMENT, "moment"), (_DAY, "date"), (_NUMBER, "number")):
        if pattern.search(name) or any(pattern.search(v) for v in offered if v):
            return kind
    return "text"


def pick(options: tuple[str, ...] | list[str], default: str = "") -> st.SearchStrategy[str]:
    """One of ``options`` by position: the same kind of draw whatever their number (none included).

    The options come from the pages, which change as requests succeed (a new form token, one more
    saved row); a draw whose shape followed them would make hypothesis's replays inconsistent."""
    return st.integers(min_value=0, max_value=2**16).map(
        lambda i: options[i % len(options)] if options else default
    )


def hostile_value(name: str = "", offered: tuple[str, ...] = ()) -> st.SearchStrategy[Value]:
    """A value for one field: something the page offers, something hostile for a field of its kind (a
    date for a date), or anything hostile.

    Always the same draws (which, where, a text, some bytes, a number), whatever the field: the field is
    chosen by position among names that change between requests, and hypothesis needs each example's
    draws to keep their shape when it replays them.
    """
    kind = kind_of(name, offered)

    def build(drawn: tuple[int, int, str, bytes, int]) -> Value:
        which, where, text, raw, number = drawn
        edges = BY_KIND[kind]
        if which < 15:
            return offered[where % len(offered)] if offered else ""
        if which < 25:
            base = offered[where % len(offered)] if offered else ""
            return base + SPOILERS[where % len(SPOILERS)]
        if which < 50:
            return edges[where % len(edges)]
        if which < 62:
            return SPECIAL[where % len(SPECIAL)]
        if which < 72:
            return str(number)
        if which < 84:
            return text
        if which < 92:
            return raw
        char, length = LONG[where % len(LONG)]
        return char * length

    return st.tuples(
        st.integers(min_value=0, max_value=99),
        st.integers(min_value=0, max_value=2**16),
        st.text(max_size=40),
        st.binary(max_size=24),
        st.integers(min_value=-(10**25), max_value=10**25),
    ).map(build)


# --- Hostile files -------------------------------------------------------------------------------

FILE_NAMES = (
    "lista.csv",
    "lista.xlsx",
    "LISTA.CSV",
    "lista.txt",
    "lista.xls",
    "lista.pdf",
    "lista",
    "",
    ".csv",
    "lista.csv\x00.xlsx",
    "../../../lista.csv",
    "lista.csv.xlsx",
    "ñ" * 300 + ".csv",
    'li"sta.csv',
)
#: What a file may start with that makes it look like something it is not.
MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"%PDF-1.4\n", b"\xef\xbb\xbf", b"\xff\xfe", b"")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252")
SEPARATORS = (",", ";", "\t", "|")


def _text(value: Value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _csv(header: list[str], rows: list[list[Value]], where: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=SEPARATORS[where % len(SEPARATORS)], lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_text(cell) for cell in row])
    encoding = ENCODINGS[(where // 7) % len(ENCODINGS)]
    return out.getvalue().encode(encoding, "replace" if encoding == "cp1252" else "surrogatepass")


def _xlsx(header: list[str], rows: list[list[Value]]) -> bytes:
    """A real workbook with hostile cells: numbers, formulas and dates where the text reads as one."""
    out = io.BytesIO()
    options = {"in_memory": True, "strings_to_numbers": True, "strings_to_formulas": True}
    workbook = xlsxwriter.Workbook(out, options)
    sheet = workbook.add_worksheet()
    for number, row in enumerate([list(header), *rows]):
        for column, cell in enumerate(row):
            try:
                sheet.write(number, column, _text(cell))
            except Exception:  # NaN, infinity, a string Excel cannot hold: left empty
                sheet.write_blank(number, column, None)
    workbook.close()
    return out.getvalue()


def hostile_file(header: list[str], samples: list[list[str]]) -> st.SearchStrategy[tuple[str, bytes]]:
    """A file to upload: a list with ``header`` and rows copied from ``samples`` (valid rows) with a few
    cells replaced by hostile values, as CSV in any encoding and separator or as a real XLSX; the same
    cut short; bytes that pretend to be another kind; or nothing; under a name that says what it is or
    lies. The same draws whatever comes out (see :func:`hostile_value`)."""
    width = len(header) + 2

    def build(drawn: tuple[int, int, int, list[tuple[int, int, Value]], bytes]) -> tuple[str, bytes]:
        which, where, count, edits, raw = drawn
        rows: list[list[Value]] = [list(samples[i % len(samples)]) + [""] * width for i in range(count)]
        rows = [row[:width] for row in rows]
        for row, column, value in edits:
            if rows:
                rows[row % len(rows)][column % width] = value
        if which < 45:
            content, name = _csv(header, rows, where), "lista.csv"
        elif which < 70:
            content, name = _xlsx(header, rows), "lista.xlsx"
        elif which < 78:
            content, name = _xlsx(header, rows), "lista.xlsx"
            content = content[: where % len(content)]
        elif which < 92:
            content, name = MAGIC[where % len(MAGIC)] + raw, FILE_NAMES[where % len(FILE_NAMES)]
        else:
            content, name = b"", "lista.csv"
        if where % 10 >= 7:  # a name that may lie about the content
            name = FILE_NAMES[(where // 10) % len(FILE_NAMES)]
        return name, content

    index = st.integers(min_value=0, max_value=2**16)
    return st.tuples(
        st.integers(min_value=0, max_value=99),
        index,
        st.integers(min_value=1, max_value=8),
        st.lists(st.tuples(index, index, hostile_value()), max_size=4),
        st.binary(max_size=4096),
    ).map(build)


def multipart(
    pairs: list[tuple[Value, Value]], files: list[tuple[str, str, bytes]], boundary: bytes
) -> bytes:
    """A multipart/form-data body: the fields, then each file as (field name, file name, content)."""
    parts = []
    for key, value in pairs:
        head = b'Content-Disposition: form-data; name="' + _bytes(key) + b'"'
        parts.append(head + b"\r\n\r\n" + _bytes(value))
    for key, file_name, content in files:
        head = b'Content-Disposition: form-data; name="' + _bytes(key) + b'"; filename="' + _bytes(file_name)
        parts.append(head + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + content)
    dash = b"--" + boundary
    return b"".join(dash + b"\r\n" + part + b"\r\n" for part in parts) + dash + b"--\r\n"


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
