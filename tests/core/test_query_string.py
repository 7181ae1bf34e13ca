"""A query string's raw bytes (issue #10, item 5): read as their percent-encoded form, never a 500.

The fuzz test (``test_fuzz.py``) found that a byte beyond ASCII sent unencoded in the query string
(``?page=\\x80``, as a careless client or a scanner sends it) made ``request.args`` raise
``UnicodeDecodeError`` on every page that reads it.
"""

from __future__ import annotations

from sosep_migrantes.core.security import _percent_encoded
from tests.factories import login, make_user


def _get(client, path: str, raw_query: bytes):
    # WSGI hands the query string over as latin-1, one character per byte received.
    return client.get(path, environ_overrides={"QUERY_STRING": raw_query.decode("latin-1")})


def test_raw_bytes_are_percent_encoded():
    assert _percent_encoded("page=2&q=a%20b") == "page=2&q=a%20b"
    assert _percent_encoded("page=\x80") == "page=%80"
    assert _percent_encoded("q=p\xc3\xb8") == "q=p%C3%B8"  # raw UTF-8: 'pø'
    assert _percent_encoded("q=\u0100") == "q=%C4%80"  # not latin-1: a server that decoded it already


def test_a_byte_that_is_not_utf8_is_ignored_like_its_encoded_form(client, ctx):
    login(client, make_user("coordinator"))
    for path in ("/cases/", "/followup/", "/admin/audit", "/reports/"):
        for query in (b"page=\x80", b"status=\xff\xfe", b"\xc3=1", b"sort=newest\xed\xa0\x80"):
            assert _get(client, path, query).status_code < 500, (path, query)


def test_raw_utf8_reads_as_the_text_it_is(client, ctx):
    login(client, make_user("coordinator"))
    # A date the report refuses is shown again as typed, beside the field: here, decoded.
    response = _get(client, "/reports/", "period=custom&from=2026-11-2ñ&to=2026-11-30".encode())
    assert response.status_code == 400
    assert 'value="2026-11-2ñ"' in response.get_data(as_text=True)
