"""No input gets a 5xx (issue #10, item 5): every route, hostile values in every field it reads.

For each rule of ``app.url_map`` (but ``static``) and each method, hypothesis sends requests as each kind of
user that may use the route (an admin, a coordinator, the FAG reception desk, the Huehuetenango sede, the
OIM's partner user; anonymous visitors on the public routes), in the access matrix's world
(``tests/core/test_access_matrix.py``: two families, their arrivals, needs and referrals). Into each request
go:

- route ids: a real object's (in the user's scope, another kind's, the other side's) or one that cannot be
  (0, -1, 2**31, 10**20);
- form fields: the names and values of the forms that post to the route (or whose script posts them there),
  read from the pages that show them (html.parser), with some values replaced by hostile ones
  (``tests/core/fuzzing.py``: huge integers, NUL and control characters, long strings, invalid UTF-8,
  impossible dates and time-zone offsets), keys repeated, row indexes blown up; on the form as a person
  fills it in, as the page has it, or alone; sent percent-encoded or raw, labelled as a form or not;
- query parameters: those of the pages' GET forms and links, and those the source reads from
  ``request.args`` (the filter schemas' fields and ``QUERY_ARGS``), with the same values, percent-encoded
  or raw;
- an ``Accept`` header for HTML or JSON (the error handler answers either).

Every answer must be below 500. A failure names the route; hypothesis prints the request it shrank to and
the message carries the logged traceback. Runs are derandomized and seeded per route, user and side, so
CI sends the same requests each time; ``FUZZ_EXAMPLES`` makes a longer search (``FUZZ_EXAMPLES=400``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update

from sosep_migrantes.cases.schemas import CaseFilterSchema
from sosep_migrantes.catalogs.models import Institution, Need, institution_needs, sede_municipalities
from sosep_migrantes.core.security import MAX_ROUTE_INT
from sosep_migrantes.desk.passenger_list import template_headers
from sosep_migrantes.extensions import db
from sosep_migrantes.followup.schemas import InboxFilterSchema
from sosep_migrantes.referrals.partner import PartnerFilterSchema
from sosep_migrantes.reports.schemas import ReportQuerySchema
from tests.conftest import CASE_TABLES, make_app
from tests.core import test_access_matrix
from tests.core.fuzzing import Value, encode, hostile_file, hostile_value, kind_of, multipart, pick, scan
from tests.core.test_access_matrix import (
    FORBIDDEN,
    MATRIX,
    NOT_FOUND,
    USERS,
    Access,
    Route,
    World,
    expected,
)
from tests.factories import sign_in_as

#: The access matrix's world, its fixture shared: two families, their arrivals, needs and referrals, users.
world = test_access_matrix.world

#: The kinds of user that send the requests (names of the access matrix's ``USERS``).
SENDERS = ("admin", "coordinator", "reception_fag", "sede_huehuetenango", "partner_oim")


def _may_use(route: Route, user: str, side: str | None) -> bool:
    """Whether ``user`` gets past the route's permission and scope (else there is nothing to fuzz)."""
    if USERS[user].role is None and route.access is not Access.PUBLIC:
        return False
    return expected(route, user, side) not in (FORBIDDEN, NOT_FOUND)


#: Query parameters the views read from ``request.args``, per endpoint (``grep -rn request.args``).
QUERY_ARGS: dict[str, tuple[str, ...]] = {
    "auth.login": ("next",),
    "auth.audit_log": ("page",),
    "cases.list_cases": ("page",),
    "desk.new_family": ("saved",),
    "referrals.new_referral": ("institution",),
    "followup.new_linkage": ("referral",),
}
#: ... and the schemas that load the query string, per endpoint.
QUERY_SCHEMAS = {
    "cases.list_cases": CaseFilterSchema,
    "followup.inbox": InboxFilterSchema,
    "partner.home": PartnerFilterSchema,
    "reports.index": ReportQuerySchema,
    "reports.export_pdf": ReportQuerySchema,
    "reports.export_xlsx": ReportQuerySchema,
    "reports.export_zip": ReportQuerySchema,
}

#: Ids no row has: the converter's limit, one past it, far past it, below it (a 404 from the converter).
IMPOSSIBLE_IDS = (0, MAX_ROUTE_INT, MAX_ROUTE_INT + 1, 10**20, -1)
#: How a form body is labelled: as a browser does (mostly), or wrongly.
CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=iso-8859-1",
    "multipart/form-data; boundary=fuzz",
    "multipart/form-data",
    "application/json",
    "text/plain",
)
BOUNDARY = "fuzz-4f1c9e"
#: Valid rows of a passenger list (the one file the service reads), for the hostile files to spoil.
PASSENGERS = [
    ["María", "López Pérez", "F", "15/03/1990", "", "G1", "Huehuetenango", "Cuilco", "55551234", "Madre"],
    ["José", "López Pérez", "M", "01/02/2018", "", "G1", "Huehuetenango", "Cuilco", "", "Hijo"],
    ["Catarina", "Tzoc Brito", "F", "20/07/1985", "2472122721301", "G2", "Quiché", "Nebaj", "", ""],
]
#: Answers in HTML (a browser) or JSON (the error handler's other branch).
ACCEPTS = ("text/html,*/*;q=0.8", "application/json", "*/*")
#: Pages that are not HTML: nothing to read forms from.
BINARY = re.compile(r"\.(pdf|xlsx|zip)$")
#: Requests per route, and fewer where each one draws a PDF or a workbook; ``FUZZ_EXAMPLES=400`` for a
#: longer search than CI's.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
SLOW_EXAMPLES = max(6, EXAMPLES // 5)


def _served() -> list[tuple[str, str, str]]:
    """(rule, method, endpoint) for every route of the application but its static files."""
    app = make_app("sqlite://")
    return sorted(
        (rule.rule, method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


SERVED = _served()
MATRIX_ROUTES = {(route.rule, route.method): route for route in MATRIX}


def _query_names(endpoint: str) -> set[str]:
    names = set(QUERY_ARGS.get(endpoint, ()))
    schema = QUERY_SCHEMAS.get(endpoint)
    if schema is not None:
        names |= {f.data_key or name for name, f in schema().fields.items()}
    return names


#: Every query name the source reads, sent now and then to any route.
ALL_QUERY_NAMES = sorted(set().union(*(_query_names(endpoint) for _, _, endpoint in SERVED)))


# --- What a route reads, from the pages that lead to it ------------------------------------------


@dataclass
class Inputs:
    """The names a route reads and the values its pages offer for them."""

    #: What the page's form submits as it stands (an almost valid request to spoil).
    baseline: list[tuple[str, str]] = field(default_factory=list)
    choices: dict[str, set[str]] = field(default_factory=dict)
    #: File inputs: the form goes as multipart/form-data with a hostile file in each.
    files: list[str] = field(default_factory=list)

    def add(
        self, pairs: list[tuple[str, str]], choices: dict[str, set[str]], files: Iterable[str] = ()
    ) -> None:
        if not self.baseline:
            self.baseline = list(pairs)
        self.files += [name for name in files if name not in self.files]
        for name, value in pairs:
            self.choices.setdefault(name, set()).add(value)
        for name, values in choices.items():
            self.choices.setdefault(name, set()).update(values)

    def names(self) -> list[str]:
        return sorted(self.choices)


#: A route's inputs: (rule, "GET") for a query string (a GET form's or a link's), (rule, "POST") for a form.
Key = tuple[str, str]
Page = tuple[Route, str | None]


def _rule_of(app: Flask, path: str, method: str) -> str | None:
    adapter = app.url_map.bind("localhost")
    try:
        rule, _ = adapter.match(path, method=method, return_rule=True)
    except Exception:  # a 404 or 405: a link or form to something else (a static file, say)
        return None
    return str(rule.rule)


def _readable_pages(user: str) -> list[Page]:
    """The HTML pages ``user`` may open, with the ids of each side of the world."""
    return [
        (route, side)
        for route in MATRIX
        if route.method == "GET" and not BINARY.search(route.rule)
        for side in route.sides
        if _may_use(route, user, side)
    ]


def _read(app: Flask, client: Any, world: World, pages: list[Page]) -> Iterator[tuple[Key, Page, Inputs]]:
    """What the forms and links of ``pages`` send to which route."""
    for page in pages:
        url = world.url(*page)
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        scanned = scan(url, response.get_data(as_text=True))
        for form in scanned.forms:
            targets = [(form.action, form.method)] + [(path, "POST") for path in form.also_posted_to]
            for path, method in targets:
                rule = _rule_of(app, path, method)
                if rule is not None:
                    inputs = Inputs()
                    inputs.add(form.pairs, form.choices, form.files)
                    yield (rule, method), page, inputs
        for path, pairs in scanned.links:
            rule = _rule_of(app, path, "GET")
            if rule is not None:
                inputs = Inputs()
                inputs.add(pairs, {})
                yield (rule, "GET"), page, inputs


#: Per user, the pages that lead to each route: found once by reading every page the user may open;
#: each test then reads only those (again, for the ids and one-time tokens of its own world).
_HOSTS: dict[str, dict[Key, list[Page]]] = {}


def _hosts(app: Flask, world: World, user: str) -> dict[Key, list[Page]]:
    if user not in _HOSTS:
        client = _signed_in(app, world.usernames[user]) if USERS[user].role else app.test_client()
        hosts: dict[Key, list[Page]] = {}
        for key, page, _ in _read(app, client, world, _readable_pages(user)):
            if page not in hosts.setdefault(key, []):
                hosts[key].append(page)
        _HOSTS[user] = hosts
    return _HOSTS[user]


def _inputs(app: Flask, client: Any, world: World, user: str, side: str | None, key: Key) -> Inputs:
    """The names and values the pages of ``side`` (and the unscoped ones) offer for ``key``."""
    pages = [page for page in _hosts(app, world, user).get(key, []) if page[1] in (None, side)]
    found = Inputs()
    for page_key, _, inputs in _read(app, client, world, pages):
        if page_key == key:
            found.add(inputs.baseline, inputs.choices, inputs.files)
    return found


# --- The catalogues the admin's routes change ----------------------------------------------------


@pytest.fixture
def catalogs_kept(app: Flask) -> Iterator[None]:
    """Put back the institutions, needs and sede coverage as they were: the admin's requests change them
    (an institution renamed, a need added or switched off, municipalities moved between sedes), and the
    rest of the suite expects the catalogues as loaded."""
    with app.app_context():
        saved = {
            table: [dict(row._mapping) for row in db.session.execute(select(table))]
            for table in (Need.__table__, Institution.__table__, institution_needs, sede_municipalities)
        }
        db.session.remove()
    yield
    with app.app_context():
        db.session.rollback()
        # The case data first: what the requests created may point at a new need or institution.
        for name in CASE_TABLES:
            db.session.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - our own table names
        db.session.execute(delete(institution_needs))
        db.session.execute(delete(sede_municipalities))
        for table in (Need.__table__, Institution.__table__):
            rows = saved[table]
            db.session.execute(delete(table).where(table.c.id.not_in([row["id"] for row in rows])))
            for row in rows:
                db.session.execute(update(table).where(table.c.id == row["id"]).values(**row))
        for table in (institution_needs, sede_municipalities):
            if saved[table]:
                db.session.execute(insert(table), saved[table])
        db.session.commit()
        db.session.remove()


# --- The strategies ------------------------------------------------------------------------------

#: Values for the fields a blank form leaves empty and a valid request needs, by the field's name (a row's
#: field by its last part): with them, a request spoiled in one field gets past the other fields' checks
#: to the service and the database, where a value the schema let through would break.
FILLS: dict[str, str | Callable[[int], str]] = {
    "given_names": "Ana",
    "surnames": "López Pérez",
    "full_name": "Ana López",
    "username": lambda n: f"fuzz-user-{n}",
    "password": "una-contraseña-bien-larga",
    "code": lambda n: f"FUZZ_{n}",
    "name_es": "Prueba",
    "name_en": "Test",
    "origin": "Laredo, TX",
    "transport_ref": "GUA123",
    "destination_municipality": "1413",
    "municipality": "1413",
    "estimated_age": "30",
    "quantity": "1",
    "reason": "Motivo de prueba",
    "note": "Nota de prueba",
    "contacted_person": "Ana",
    "next_action": "Llamar",
}
#: Where a date's arithmetic overflows: the form's dates are set to consecutive days from one of them.
EDGE_DAYS = ("9999-12-30", "0001-01-01")
#: Selects whose first choice makes a valid request (the others keep what the page selected).
FIRST_CHOICE = (
    "sex",
    "consent_type",
    "contact_type",
    "outcome",
    "institution",
    "member_id",
    "reason",
    "role",
    "action",
)


_fills = itertools.count(1)


def _filled(inputs: Inputs) -> list[tuple[str, str]]:
    """The page's form with its empty fields filled in, and its radios and boxes ticked, as a person would."""
    pairs = []
    for name, value in inputs.baseline:
        field_name = name.rsplit("-", 1)[-1]
        if value == "" and field_name in FIRST_CHOICE:
            value = min((v for v in inputs.choices.get(name, ()) if v), default="")
        if value == "" and field_name in FILLS:
            fill = FILLS[field_name]
            # A code or a user name is unique: each request brings a new one, so more than one is saved.
            value = fill(next(_fills)) if callable(fill) else fill
        pairs.append((name, value))
    sent = {name for name, _ in pairs}
    for name, values in sorted(inputs.choices.items()):
        if name not in sent and values:
            pairs.append((name, min(values)))
    return pairs


def _route_id(real: int | None, all_ids: list[int]) -> st.SearchStrategy[int]:
    """Mostly the route's own object; else another object's id (of another kind or side), or none's."""
    others = sorted(set(all_ids) | set(IMPOSSIBLE_IDS))
    if real is None:
        return st.sampled_from(others)
    return st.integers(min_value=0, max_value=3).flatmap(
        lambda n: st.just(real) if n < 3 else st.sampled_from(others)
    )


def _spoiled_name(name: str) -> str:
    """The same field in a row that cannot be: ``members-0-cui`` -> ``members-99999999999999999999-cui``."""
    return re.sub(r"-\d+-", "-99999999999999999999-", name)


def _pairs(
    draw: Any, inputs: Inputs, extra_names: list[str], extra_pool: list[str]
) -> list[tuple[Value, Value]]:
    """The form as filled in, as the page has it, or nothing; then a few fields replaced or repeated
    with hostile values (or added: a row that cannot be, a name another route reads); half the time the
    form's dates moved together to consecutive days from an edge of the calendar (a contact on 9999-12-30
    and the next one on 9999-12-31: what one hostile date alone seldom reaches)."""
    start = draw(st.sampled_from(("filled", "page", "filled", "nothing")))
    pairs: list[tuple[Value, Value]] = (
        list(_filled(inputs)) if start == "filled" else list(inputs.baseline) if start == "page" else []
    )
    names = sorted(set(inputs.choices) | set(extra_names))
    pool = names + [_spoiled_name(n) for n in names if re.search(r"-\d+-", n)] + extra_pool
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        # Drawn in the same shape whatever the page offers (see fuzzing.pick).
        name = draw(pick(pool))
        value = draw(hostile_value(name, tuple(sorted(inputs.choices.get(name, ())))))
        replace = draw(st.booleans())
        at = [i for i, (key, _) in enumerate(pairs) if key == name]
        if at and replace:
            pairs[at[0]] = (name, value)
        else:
            pairs.append((name, value))
    # First (what hypothesis tries first): the dates at an edge, so every form with dates meets one.
    at_an_edge = draw(st.sampled_from((True, False)))
    day = dt.date.fromisoformat(draw(st.sampled_from(EDGE_DAYS)))
    if at_an_edge:
        for i, (key, _) in enumerate(pairs):
            if isinstance(key, str) and kind_of(key) == "date":
                pairs[i] = (key, day.isoformat())
                day = min(day + dt.timedelta(days=1), dt.date.max) if day < dt.date.max else day
    return pairs


# --- Routes that act once ------------------------------------------------------------------------


def _close_case(client: Any, ids: dict[str, int]) -> None:
    client.post(f"/cases/{ids['family_id']}/close", data={"reason": "declined", "note": "Para la prueba."})


def _reopen_case(client: Any, ids: dict[str, int]) -> None:
    client.post(f"/cases/{ids['family_id']}/reopen", data={"note": "Para la prueba."})


#: What puts the case back where a route can act on it again, before the first request and after each
#: one that succeeds: a closed case for the reopening form, an open one for the closing form.
RESETS: dict[str, Callable[[Any, dict[str, int]], None]] = {
    "followup.reopen": _close_case,
    "followup.close": _reopen_case,
}


# --- The test ------------------------------------------------------------------------------------


class _Tracebacks(logging.Handler):
    """The 500 handler's log (``core.errors``): the traceback of the last unexpected error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: str = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.last = logging.Formatter().formatException(record.exc_info)


def _signed_in(app: Flask, username: str) -> Any:
    """A client signed in as ``username`` (with the authenticator's code, for the accounts that need it)."""
    client = app.test_client()
    assert sign_in_as(client, username).status_code == 302
    return client


def test_every_route_is_fuzzed():
    """The parametrization below is the URL map's: a new route is fuzzed without being listed here."""
    assert {(rule, method) for rule, method, _ in SERVED} <= set(MATRIX_ROUTES), (
        "a route is missing from the access matrix (tests/core/test_access_matrix.py): add it there"
    )
    endpoints = {endpoint for _, _, endpoint in SERVED}
    stale = (set(QUERY_ARGS) | set(QUERY_SCHEMAS)) - endpoints
    assert not stale, f"QUERY_ARGS or QUERY_SCHEMAS name endpoints the app no longer has: {sorted(stale)}"


@pytest.mark.parametrize(("rule", "method", "endpoint"), SERVED, ids=[f"{m} {r}" for r, m, _ in SERVED])
def test_no_input_gets_a_5xx(
    app: Flask, world: World, catalogs_kept: None, rule: str, method: str, endpoint: str
) -> None:
    route = MATRIX_ROUTES[(rule, method)]
    senders = SENDERS + (("anonymous",) if route.access is Access.PUBLIC else ())
    contexts = [(user, side) for user in senders for side in route.sides if _may_use(route, user, side)]
    assert contexts, f"nobody may use {method} {rule}"
    slow = BINARY.search(rule) is not None
    examples = max(2 if slow else 6, (SLOW_EXAMPLES if slow else EXAMPLES) // len(contexts))

    with app.test_request_context():
        file_header = template_headers()  # the passenger list's, the one file the service reads
    all_ids = sorted({i for ids in world.sides.values() for i in ids.values()} | set(world.catalog.values()))
    params = re.findall(r"<int:(\w+)>", rule)
    own_query = sorted(_query_names(endpoint))
    tracebacks = _Tracebacks()

    def fuzz_as(user: str, side: str | None) -> None:
        anonymous = USERS[user].role is None
        client = app.test_client() if anonymous else _signed_in(app, world.usernames[user])
        real = world.sides[side] if side else world.catalog
        reset = RESETS.get(endpoint)
        if reset is not None:
            reset(client, real)
        inputs = _inputs(app, client, world, user, side, (rule, method))
        query_inputs = inputs if method == "GET" else Inputs()
        form_inputs = inputs if method == "POST" else Inputs()

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )
        # Derandomized, and seeded per user and side: each gets its own requests, the same on every run.
        @seed(zlib.crc32(f"{method} {rule} {user} {side}".encode()))
        @given(st.data())
        def fuzz(data: st.DataObject) -> None:
            nonlocal client, form_inputs
            path = rule
            for name in params:
                path = path.replace(
                    f"<int:{name}>", str(data.draw(_route_id(real.get(name), all_ids), label=name))
                )
            query = _pairs(data.draw, query_inputs, own_query, ALL_QUERY_NAMES)
            # Percent-encoded as a browser sends it, or the raw bytes (WSGI hands them over as latin-1).
            raw_query = data.draw(st.booleans(), label="raw query")
            query_string = encode(query, raw=raw_query).decode("latin-1")
            body = b""
            content_type = None
            if method == "POST":
                pairs = _pairs(data.draw, form_inputs, [], ["csrf_token", "next", "page"])
                body = encode(pairs, raw=data.draw(st.booleans(), label="raw body"))
                content_type = data.draw(st.sampled_from(CONTENT_TYPES), label="content type")
                # Drawn for every form, sent with those that have a file input (the shape stays the same).
                upload = data.draw(hostile_file(file_header, PASSENGERS), label="file")
                if form_inputs.files and content_type.startswith(("application/x-www", "multipart/")):
                    files = [(name, *upload) for name in form_inputs.files]
                    body = multipart(pairs, files, BOUNDARY.encode())
                    content_type = f"multipart/form-data; boundary={BOUNDARY}"
            headers = {"Accept": data.draw(st.sampled_from(ACCEPTS), label="accept")}
            tracebacks.last = ""
            response = client.open(
                path,
                method=method,
                data=body if method == "POST" else None,
                content_type=content_type,
                headers=headers,
                environ_overrides={"QUERY_STRING": query_string},
            )
            response.get_data()
            response.close()
            note(f"{method} {path}?{query_string[:500]} as {user}: {response.status_code}")
            assert response.status_code < 500, (
                f"{method} {path} as {user} answered {response.status_code}\n"
                f"query: {query_string[:2000]}\nbody: {body[:2000]!r}\n{tracebacks.last}"
            )
            signed_out = response.status_code == 302 and urlsplit(response.location).path.startswith("/login")
            if signed_out and not anonymous:
                # The request ended the session (logging out, ending a session by its id): a new one.
                client = _signed_in(app, world.usernames[user])
            elif method == "POST" and response.status_code == 302:
                # Saved: the form as the page now has it (a new version, a new one-time token).
                if reset is not None:
                    reset(client, real)
                form_inputs = _inputs(app, client, world, user, side, (rule, method))

        fuzz()

    errors_log = logging.getLogger("sosep_migrantes.core.errors")
    errors_log.addHandler(tracebacks)
    try:
        for user, side in contexts:
            fuzz_as(user, side)
    finally:
        errors_log.removeHandler(tracebacks)
