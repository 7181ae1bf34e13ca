"""Access matrix: every URL x method against every kind of user.

Each route in ``MATRIX`` says what it needs (nothing, a signed-in user, or a permission) and which
object scope it reads through (a family, an arrival, or a referral addressed to a partner institution).
For every kind of user the expected answer follows from that:

- anonymous: 302 to /login, except the public routes (/login, /healthz, POST /language);
- a user whose role lacks the permission: 403;
- a user with the permission but the object out of their scope: 404;
- otherwise 200 for a GET (a PDF for the slips) and 302 or 400 for a POST (sent empty or minimal).

A 500 is never an expected answer. Scoped routes are requested twice, once with the ids of the FAG
side of the world (a family going to Cuilco, Huehuetenango) and once with those of the Tecún Umán
side (a family going to Nebaj, Quiché), so both a user's own objects and someone else's are tried.
The FAG side's referral goes to the OIM and the Tecún Umán side's to Refugio de la Niñez, so each
partner institution's user has one of its own and one of another institution's. Every HTML page a user
may open is also searched for what they may not see: the other side's case numbers and names, and, for a
partner, any case number or link to a case.

Several users take part, so the set-up runs in its own application context and each user gets a
fresh test client: a shared context would cache the signed-in user across clients.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import update

from sosep_migrantes.auth.models import User
from sosep_migrantes.catalogs.models import Institution, Need, Sede, sede_municipalities
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core.permissions import Permission, role_has
from sosep_migrantes.extensions import db
from sosep_migrantes.needs import services as need_services
from sosep_migrantes.needs.schemas import NeedsBatchSchema
from tests.factories import PASSWORD, make_arrival, make_family, make_user, member, totp_code
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

P = Permission


# --- The kinds of user -------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    role: str | None  # None: not signed in
    centre: str | None = None
    sede: str | None = None
    institution: str | None = None


USERS: dict[str, Kind] = {
    "anonymous": Kind(None),
    "admin": Kind("admin"),
    "coordinator": Kind("coordinator"),
    "reception_fag": Kind("reception", centre="FAG"),
    "reception_tecun": Kind("reception", centre="TECUN_UMAN"),
    "sede_huehuetenango": Kind("sede", sede="HUEHUETENANGO"),
    "sede_quiche": Kind("sede", sede="QUICHE"),
    "partner_oim": Kind("partner", institution="OIM"),
    "partner_refugio": Kind("partner", institution="REFUGIO_NINEZ"),
}

#: The two sides of the world: what was registered at FAG (going to Cuilco) and at Tecún Umán (Nebaj).
FAG, TECUN = "fag", "tecun"
#: The institution each side's referral is addressed to.
REFERRED_TO = {FAG: "OIM", TECUN: "REFUGIO_NINEZ"}

#: Who may see each side's objects, given the permission to read them at all. A sede works on the
#: cases going to its territory but sees no arrivals (it has no ``arrival:view``). A partner
#: institution sees the referrals addressed to it (``partner_referral``), and no case.
SCOPE: dict[str, dict[str, frozenset[str]]] = {
    "family": {
        FAG: frozenset({"coordinator", "reception_fag", "sede_huehuetenango"}),
        TECUN: frozenset({"coordinator", "reception_tecun", "sede_quiche"}),
    },
    "arrival": {
        FAG: frozenset({"coordinator", "reception_fag"}),
        TECUN: frozenset({"coordinator", "reception_tecun"}),
    },
    "partner_referral": {
        FAG: frozenset({"partner_oim"}),
        TECUN: frozenset({"partner_refugio"}),
    },
}


# --- Expected outcomes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    label: str
    statuses: frozenset[int]
    #: The redirect's path when it matters; otherwise any redirect but one to the login page.
    location: str | None = None
    mimetype: str | None = None

    def accepts(self, response) -> bool:
        if response.status_code not in self.statuses:
            return False
        if response.status_code == 302:
            path = urlsplit(response.location).path
            return path == self.location if self.location else path != "/login"
        return self.mimetype is None or response.mimetype == self.mimetype


TO_LOGIN = Outcome("302 → /login", frozenset({302}), location="/login")
FORBIDDEN = Outcome("403", frozenset({403}))
NOT_FOUND = Outcome("404", frozenset({404}))
OK = Outcome("200", frozenset({200}))
PDF = Outcome("200 PDF", frozenset({200}), mimetype="application/pdf")
INVALID = Outcome("400", frozenset({400}))
REDIRECT = Outcome("302", frozenset({302}))
TO_HOME = Outcome("302 → /", frozenset({302}), location="/")
DONE_OR_INVALID = Outcome("302 or 400", frozenset({302, 400}))
#: Pages whose answer depends on the account, not on its permissions (a second factor set or not).
OK_OR_REDIRECT = Outcome("200 or 302", frozenset({200, 302}))
XLSX = Outcome(
    "200 XLSX", frozenset({200}), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)
ZIP = Outcome("200 zip", frozenset({200}), mimetype="application/zip")
CSV = Outcome("200 CSV", frozenset({200}), mimetype="text/csv")
# The JSON API (issue #12): no redirects, the status says it.
UNAUTHORIZED = Outcome("401", frozenset({401}))
JSON = Outcome("200 JSON", frozenset({200}), mimetype="application/json")
CREATED = Outcome("201", frozenset({201}))
UNPROCESSABLE = Outcome("422", frozenset({422}))
#: An update without ``If-Match`` (the ETag read): the API asks for it before changing anything.
PRECONDITION_REQUIRED = Outcome("428", frozenset({428}))


class Access(enum.Enum):
    PUBLIC = "public"
    SIGNED_IN = "signed in"


@dataclass(frozen=True)
class Route:
    rule: str
    method: str
    access: Access | Permission
    #: The scope the route's object is read through (its ids come from each side of the world).
    scope: str | None = None
    #: The answer when the user may do it (default: 200 for GET, 302 or 400 for POST).
    ok: Outcome | None = None
    #: For public routes, the answer to an anonymous visitor when it differs from ``ok``.
    anonymous: Outcome | None = None
    #: Form data for a POST (empty by default): a callable receives the world.
    data: dict[str, Any] | Callable[[World], dict[str, Any]] = field(default_factory=dict)
    #: A JSON body instead (the API's writes).
    json: dict[str, Any] | None = None

    @property
    def is_api(self) -> bool:
        return self.rule.startswith(API)

    @property
    def allowed(self) -> Outcome:
        if self.ok is not None:
            return self.ok
        return OK if self.method == "GET" else DONE_OR_INVALID

    @property
    def sides(self) -> tuple[str | None, ...]:
        return (FAG, TECUN) if self.scope else (None,)


API = "/api/v1/"


def _family_json(municipality: str = "Cuilco, Huehuetenango") -> dict[str, Any]:
    return {
        "destination_municipality": municipality,
        "consent_type": "refused",
        "members": [
            {
                "given_names": "Juana",
                "surnames": "Matriz",
                "sex": "F",
                "relationship": "HEAD",
                "estimated_age": 30,
            }
        ],
    }


MATRIX: tuple[Route, ...] = (
    # core
    Route("/", "GET", Access.SIGNED_IN, ok=REDIRECT),
    Route("/healthz", "GET", Access.PUBLIC),
    Route("/admin/audit", "GET", P.AUDIT_VIEW),
    # auth
    Route("/login", "GET", Access.PUBLIC, ok=TO_HOME, anonymous=OK),
    Route("/login", "POST", Access.PUBLIC, ok=TO_HOME, anonymous=INVALID),
    Route("/language", "POST", Access.PUBLIC, ok=TO_HOME, data={"locale": "es_GT"}),
    Route("/admin/users", "GET", P.USER_MANAGE),
    Route("/admin/users/new", "GET", P.USER_MANAGE),
    Route("/admin/users/new", "POST", P.USER_MANAGE, ok=INVALID),
    Route("/admin/users/<int:user_id>", "GET", P.USER_MANAGE),
    Route("/admin/users/<int:user_id>", "POST", P.USER_MANAGE, ok=INVALID),
    # Really resets the spare account's second factor (it has none): the account then waits for approval.
    Route("/admin/users/<int:user_id>/second-factor/reset", "POST", P.USER_MANAGE, ok=REDIRECT),
    # An API token for a service account (issue #12): without a name, the page again, told why; no such token.
    Route("/admin/users/<int:user_id>/tokens", "POST", P.USER_MANAGE, ok=INVALID),
    Route("/admin/users/<int:user_id>/tokens/<int:token_id>/revoke", "POST", P.USER_MANAGE, ok=REDIRECT),
    Route("/admin/approvals", "GET", P.ACCESS_APPROVE),
    Route("/admin/approvals/<int:user_id>", "POST", P.ACCESS_APPROVE, ok=INVALID),
    # A fully signed-in user owes no code: sent on.
    Route("/login/code", "GET", Access.SIGNED_IN, ok=REDIRECT),
    Route("/login/code", "POST", Access.SIGNED_IN, ok=REDIRECT),
    # account (every signed-in user's own)
    Route("/account/", "GET", Access.SIGNED_IN),
    Route("/account/password", "GET", Access.SIGNED_IN),
    Route("/account/password", "POST", Access.SIGNED_IN, ok=INVALID),
    Route("/account/pending", "GET", Access.SIGNED_IN, ok=REDIRECT),
    Route("/account/second-factor", "GET", Access.SIGNED_IN, ok=OK_OR_REDIRECT),
    Route("/account/second-factor", "POST", Access.SIGNED_IN),
    Route("/account/recovery-codes", "POST", Access.SIGNED_IN, ok=REDIRECT),
    Route("/account/sessions/<int:session_id>/end", "POST", Access.SIGNED_IN, ok=REDIRECT),
    Route("/account/sessions/end-others", "POST", Access.SIGNED_IN, ok=REDIRECT),
    # Personal API tokens (issue #12): a name is missing (the account page, told why); no such token.
    Route("/account/tokens", "POST", Access.SIGNED_IN, ok=INVALID),
    Route("/account/tokens/<int:token_id>/revoke", "POST", Access.SIGNED_IN, ok=REDIRECT),
    # catalogs
    Route("/admin/catalogs/sedes", "GET", P.CATALOG_MANAGE),
    Route("/admin/catalogs/sedes/<int:sede_id>", "GET", P.CATALOG_MANAGE),
    # Posts the sede's current coverage back: a real save that changes nothing.
    Route(
        "/admin/catalogs/sedes/<int:sede_id>",
        "POST",
        P.CATALOG_MANAGE,
        ok=REDIRECT,
        data=lambda world: {"municipalities": [str(m) for m in world.sede_coverage]},
    ),
    Route("/admin/catalogs/institutions", "GET", P.CATALOG_MANAGE),
    Route("/admin/catalogs/institutions/new", "GET", P.CATALOG_MANAGE),
    Route("/admin/catalogs/institutions/new", "POST", P.CATALOG_MANAGE, ok=INVALID),
    Route("/admin/catalogs/institutions/<int:institution_id>", "GET", P.CATALOG_MANAGE),
    Route("/admin/catalogs/institutions/<int:institution_id>", "POST", P.CATALOG_MANAGE, ok=INVALID),
    Route("/admin/catalogs/needs", "GET", P.CATALOG_MANAGE),
    Route("/admin/catalogs/needs", "POST", P.CATALOG_MANAGE, ok=INVALID),
    # Really toggles the need: the world puts it back afterwards.
    Route("/admin/catalogs/needs/<int:need_id>/toggle", "POST", P.CATALOG_MANAGE, ok=REDIRECT),
    # reception
    Route("/arrivals/", "GET", P.ARRIVAL_VIEW),
    Route("/arrivals/new", "GET", P.ARRIVAL_CREATE),
    Route("/arrivals/new", "POST", P.ARRIVAL_CREATE, ok=INVALID),
    Route("/arrivals/<int:arrival_id>", "GET", P.ARRIVAL_VIEW, scope="arrival"),
    # The search among the arrival's pre-registered families (posted: a name never reaches the URL).
    Route("/arrivals/<int:arrival_id>", "POST", P.ARRIVAL_VIEW, scope="arrival", ok=OK, data={"q": "López"}),
    # The passenger list (issue #11, item 4): its templates, the upload and its preview (no file sent: the
    # message beside the form), and the confirmation (no preview's token: back to the arrival, told why).
    Route("/arrivals/passenger-list-template.csv", "GET", P.CASE_CREATE, ok=CSV),
    Route("/arrivals/passenger-list-template.xlsx", "GET", P.CASE_CREATE, ok=XLSX),
    Route("/arrivals/<int:arrival_id>/passenger-list", "POST", P.CASE_CREATE, scope="arrival", ok=INVALID),
    Route(
        "/arrivals/<int:arrival_id>/passenger-list/confirm",
        "POST",
        P.CASE_CREATE,
        scope="arrival",
        ok=REDIRECT,
    ),
    # Confirming a pre-registered family at the desk; the world's families are received already, so the
    # desk is sent to the case (tests/desk/test_passenger_list.py confirms a pre-registered one).
    Route(
        "/arrivals/<int:arrival_id>/families/<int:family_id>/confirm",
        "GET",
        P.CASE_CREATE,
        scope="arrival",
        ok=REDIRECT,
    ),
    Route(
        "/arrivals/<int:arrival_id>/families/<int:family_id>/confirm",
        "POST",
        P.CASE_CREATE,
        scope="arrival",
        ok=REDIRECT,
    ),
    # The desk's suggested referrals for the family as typed (an empty form: nothing to suggest).
    Route("/arrivals/<int:arrival_id>/families/suggestions", "POST", P.CASE_CREATE, scope="arrival", ok=OK),
    # The desk's earlier records of a member being typed (an empty form: no member row, nothing to say).
    Route(
        "/arrivals/<int:arrival_id>/families/earlier-records",
        "POST",
        P.CASE_CREATE,
        scope="arrival",
        ok=Outcome("204", frozenset({204})),
    ),
    Route("/arrivals/<int:arrival_id>/families/new", "GET", P.CASE_CREATE, scope="arrival"),
    Route("/arrivals/<int:arrival_id>/families/new", "POST", P.CASE_CREATE, scope="arrival", ok=INVALID),
    # cases
    Route("/cases/", "GET", P.CASE_VIEW),
    Route("/cases/", "POST", P.CASE_VIEW, ok=REDIRECT),
    Route("/cases/<int:family_id>", "GET", P.CASE_VIEW, scope="family"),
    Route("/cases/<int:family_id>/edit", "GET", P.CASE_EDIT, scope="family"),
    Route("/cases/<int:family_id>/edit", "POST", P.CASE_EDIT, scope="family", ok=INVALID),
    # returnees (issue #12): each member's earlier records anywhere in the country (cut to the minimum
    # outside the scope); linking or dismissing one (an empty form: 400)
    Route("/cases/<int:family_id>/earlier-records", "GET", P.RETURNEE_VIEW, scope="family"),
    Route("/cases/<int:family_id>/earlier-records/link", "POST", P.RETURNEE_LINK, scope="family", ok=INVALID),
    Route(
        "/cases/<int:family_id>/earlier-records/dismiss", "POST", P.RETURNEE_LINK, scope="family", ok=INVALID
    ),
    # needs: reading the checklist needs case:view, saving it case:edit
    Route("/cases/<int:family_id>/needs", "GET", P.CASE_VIEW, scope="family"),
    Route("/cases/<int:family_id>/needs", "POST", P.CASE_EDIT, scope="family", ok=INVALID),
    Route(
        "/cases/<int:family_id>/needs/<int:need_id>/attend", "POST", P.CASE_EDIT, scope="family", ok=INVALID
    ),
    # referrals
    Route("/cases/<int:family_id>/referrals/new", "GET", P.REFERRAL_CREATE, scope="family"),
    Route("/cases/<int:family_id>/referrals/new", "POST", P.REFERRAL_CREATE, scope="family", ok=INVALID),
    Route("/referrals/<int:referral_id>", "GET", P.CASE_VIEW, scope="family"),
    Route("/referrals/<int:referral_id>/status", "POST", P.REFERRAL_UPDATE, scope="family", ok=INVALID),
    Route("/referrals/<int:referral_id>/slip.pdf", "GET", P.CASE_VIEW, scope="family", ok=PDF),
    Route("/arrivals/<int:arrival_id>/slips.pdf", "GET", P.CASE_VIEW, scope="arrival", ok=PDF),
    # followup: the inbox and the view per sede read through the case scope; the forms write (sedes only)
    Route("/followup/", "GET", P.FOLLOWUP_INBOX),
    Route("/followup/sedes", "GET", P.FOLLOWUP_OVERVIEW),
    Route("/cases/<int:family_id>/followups/new", "GET", P.FOLLOWUP_RECORD, scope="family"),
    Route("/cases/<int:family_id>/followups/new", "POST", P.FOLLOWUP_RECORD, scope="family", ok=INVALID),
    Route("/cases/<int:family_id>/linkages/new", "GET", P.FOLLOWUP_RECORD, scope="family"),
    Route("/cases/<int:family_id>/linkages/new", "POST", P.FOLLOWUP_RECORD, scope="family", ok=INVALID),
    Route("/cases/<int:family_id>/transfer", "GET", P.FOLLOWUP_RECORD, scope="family"),
    Route("/cases/<int:family_id>/transfer", "POST", P.FOLLOWUP_RECORD, scope="family", ok=INVALID),
    Route("/cases/<int:family_id>/close", "GET", P.FOLLOWUP_RECORD, scope="family"),
    Route("/cases/<int:family_id>/close", "POST", P.FOLLOWUP_RECORD, scope="family", ok=INVALID),
    Route("/cases/<int:family_id>/reopen", "GET", P.FOLLOWUP_RECORD, scope="family"),
    # The case is open: asking to reopen it is refused beside the field.
    Route("/cases/<int:family_id>/reopen", "POST", P.FOLLOWUP_RECORD, scope="family", ok=INVALID),
    # partner institutions
    Route("/partner/", "GET", P.REFERRAL_RESPOND),
    Route("/partner/referrals/<int:referral_id>", "GET", P.REFERRAL_RESPOND, scope="partner_referral"),
    Route(
        "/partner/referrals/<int:referral_id>/status",
        "POST",
        P.REFERRAL_RESPOND,
        scope="partner_referral",
        ok=INVALID,
    ),
    Route(
        "/partner/referrals/<int:referral_id>/slip.pdf",
        "GET",
        P.REFERRAL_RESPOND,
        scope="partner_referral",
        ok=PDF,
    ),
    # reports: not object-scoped; the figures are read through the user's scope (centre, sede, country)
    Route("/reports/", "GET", P.REPORT_VIEW),
    Route("/reports/export.pdf", "GET", P.REPORT_VIEW, ok=PDF),
    Route("/reports/export.xlsx", "GET", P.REPORT_VIEW, ok=XLSX),
    Route("/reports/export.zip", "GET", P.REPORT_VIEW, ok=ZIP),
    # the JSON API (issue #12): the same permissions and scopes; the anonymous get a 401
    Route("/api/v1/openapi.json", "GET", Access.PUBLIC, ok=JSON),
    Route("/api/v1/docs", "GET", Access.PUBLIC),
    Route("/api/v1/catalogs/", "GET", Access.SIGNED_IN, ok=JSON),
    Route("/api/v1/catalogs/<string:name>", "GET", Access.SIGNED_IN, ok=JSON),
    Route("/api/v1/arrivals/", "GET", P.ARRIVAL_VIEW, ok=JSON),
    Route("/api/v1/arrivals/", "POST", P.ARRIVAL_CREATE, ok=UNPROCESSABLE, json={}),
    Route("/api/v1/arrivals/<int:arrival_id>", "GET", P.ARRIVAL_VIEW, scope="arrival", ok=JSON),
    Route("/api/v1/families/", "GET", P.CASE_VIEW, ok=JSON),
    Route("/api/v1/families/<int:family_id>", "GET", P.CASE_VIEW, scope="family", ok=JSON),
    # A valid body without If-Match: the scope is checked first (404), then the missing ETag (428).
    Route(
        "/api/v1/families/<int:family_id>",
        "PUT",
        P.CASE_EDIT,
        scope="family",
        ok=PRECONDITION_REQUIRED,
        json=_family_json(),
    ),
    # Really registers a family on the arrival (a user in scope): the world is rebuilt for each user.
    Route(
        "/api/v1/arrivals/<int:arrival_id>/families",
        "POST",
        P.CASE_CREATE,
        scope="arrival",
        ok=CREATED,
        json=_family_json(),
    ),
    # needs and services (the needs page's permissions): a checklist line really recorded, and the world's
    # pending need really attended, by a user in scope
    Route("/api/v1/families/<int:family_id>/needs", "GET", P.CASE_VIEW, scope="family", ok=JSON),
    Route(
        "/api/v1/families/<int:family_id>/needs",
        "POST",
        P.CASE_EDIT,
        scope="family",
        ok=CREATED,
        json={"items": [{"need": "FOOD", "action": "identified"}]},
    ),
    Route(
        "/api/v1/families/<int:family_id>/needs/<int:need_id>/attend",
        "POST",
        P.CASE_EDIT,
        scope="family",
        ok=JSON,
        json={"delivered_by": "Matriz"},
    ),
    # referrals: a valid body naming no member of the family (the scope first: 404; then the service's
    # 400); the world's sent referral really accepted by a user in scope
    Route("/api/v1/families/<int:family_id>/referrals", "GET", P.CASE_VIEW, scope="family", ok=JSON),
    Route(
        "/api/v1/families/<int:family_id>/referrals",
        "POST",
        P.REFERRAL_CREATE,
        scope="family",
        ok=INVALID,
        json={"institution": "SOSEP_SEDES", "member_ids": [999_999_999], "reason": "Matriz."},
    ),
    Route("/api/v1/referrals/<int:referral_id>", "GET", P.CASE_VIEW, scope="family", ok=JSON),
    Route(
        "/api/v1/referrals/<int:referral_id>/status",
        "POST",
        P.REFERRAL_UPDATE,
        scope="family",
        ok=JSON,
        json={"status": "accepted"},
    ),
    Route("/api/v1/referrals/<int:referral_id>/slip.pdf", "GET", P.CASE_VIEW, scope="family", ok=PDF),
    # partner institutions: the referrals addressed to the token's institution; the world's one accepted
    Route("/api/v1/partner/referrals/", "GET", P.REFERRAL_RESPOND, ok=JSON),
    Route(
        "/api/v1/partner/referrals/<int:referral_id>",
        "GET",
        P.REFERRAL_RESPOND,
        scope="partner_referral",
        ok=JSON,
    ),
    Route(
        "/api/v1/partner/referrals/<int:referral_id>/status",
        "POST",
        P.REFERRAL_RESPOND,
        scope="partner_referral",
        ok=JSON,
        json={"status": "accepted"},
    ),
    Route(
        "/api/v1/partner/referrals/<int:referral_id>/slip.pdf",
        "GET",
        P.REFERRAL_RESPOND,
        scope="partner_referral",
        ok=PDF,
    ),
    # A case's follow-up (issue #12): read with case:view, written by its sede. The bodies are valid, so a
    # case out of scope is a 404; in scope, a contact or linkage dated before the arrival is refused by the
    # service (400), and a transfer, closure or reopening without If-Match asks for it (428).
    Route("/api/v1/families/<int:family_id>/followups", "GET", P.CASE_VIEW, scope="family", ok=JSON),
    Route(
        "/api/v1/families/<int:family_id>/followups",
        "POST",
        P.FOLLOWUP_RECORD,
        scope="family",
        ok=INVALID,
        json={"contacted_on": "2000-01-01", "contact_type": "phone", "outcome": "located"},
    ),
    Route("/api/v1/families/<int:family_id>/linkages", "GET", P.CASE_VIEW, scope="family", ok=JSON),
    Route(
        "/api/v1/families/<int:family_id>/linkages",
        "POST",
        P.FOLLOWUP_RECORD,
        scope="family",
        ok=INVALID,
        json={"linked_on": "2000-01-01", "outside_service": "Escuela de la matriz"},
    ),
    Route(
        "/api/v1/families/<int:family_id>/transfer",
        "POST",
        P.FOLLOWUP_RECORD,
        scope="family",
        ok=PRECONDITION_REQUIRED,
        json={"municipality": 1413, "reason": "Matriz"},
    ),
    Route(
        "/api/v1/families/<int:family_id>/close",
        "POST",
        P.FOLLOWUP_RECORD,
        scope="family",
        ok=PRECONDITION_REQUIRED,
        json={"reason": "declined"},
    ),
    Route(
        "/api/v1/families/<int:family_id>/reopen",
        "POST",
        P.FOLLOWUP_RECORD,
        scope="family",
        ok=PRECONDITION_REQUIRED,
        json={"note": "Matriz"},
    ),
    Route("/api/v1/followup/inbox", "GET", P.FOLLOWUP_INBOX, ok=JSON),
    # Returnees: the on-demand search without a name or CUI (422: nothing to look for); a case's earlier
    # records; deciding on a member that is not the case's (400 in scope, 404 out of it).
    Route("/api/v1/returnees/candidates", "GET", P.RETURNEE_VIEW, ok=UNPROCESSABLE),
    Route(
        "/api/v1/families/<int:family_id>/earlier-records", "GET", P.RETURNEE_VIEW, scope="family", ok=JSON
    ),
    Route(
        "/api/v1/families/<int:family_id>/earlier-records/link",
        "POST",
        P.RETURNEE_LINK,
        scope="family",
        ok=INVALID,
        json={"member_id": 999_999_999, "earlier_member_id": 999_999_999},
    ),
    Route(
        "/api/v1/families/<int:family_id>/earlier-records/dismiss",
        "POST",
        P.RETURNEE_LINK,
        scope="family",
        ok=INVALID,
        json={"member_id": 999_999_999, "earlier_member_id": 999_999_999},
    ),
    # The report's figures (this month), read through the account's scope.
    Route("/api/v1/reports/figures", "GET", P.REPORT_VIEW, ok=JSON),
    # Last: it ends the session the other requests share.
    Route("/logout", "POST", Access.SIGNED_IN, ok=TO_LOGIN),
)


def expected(route: Route, user: str, side: str | None) -> Outcome:
    kind = USERS[user]
    if route.access is Access.PUBLIC:
        return (route.anonymous or route.allowed) if kind.role is None else route.allowed
    if kind.role is None:
        return UNAUTHORIZED if route.is_api else TO_LOGIN
    if isinstance(route.access, Permission) and not role_has(kind.role, route.access):
        return FORBIDDEN
    if route.scope and user not in SCOPE[route.scope][side]:
        return NOT_FOUND
    return route.allowed


# --- The world -----------------------------------------------------------------------------------


@dataclass
class World:
    #: Ids for the scoped routes' URLs, per side: family_id, arrival_id, referral_id, need_id.
    sides: dict[str, dict[str, int]]
    #: Ids for the admin's routes: user_id, sede_id, institution_id, need_id (of the catalogue).
    catalog: dict[str, int]
    #: What each side's pages would show if they leaked: case and referral numbers, names, links.
    markers: dict[str, dict[str, list[str]]]
    usernames: dict[str, str]
    sede_coverage: list[int]

    def url(self, route: Route, side: str | None) -> str:
        params = self.sides[side] if side else self.catalog
        url = route.rule
        for name, value in {**params, "name": "relationships"}.items():
            url = url.replace(f"<int:{name}>", str(value)).replace(f"<string:{name}>", str(value))
        assert "<" not in url, f"no value for a parameter of {route.rule}"
        return url


#: The sede whose coverage the admin saves (unchanged) and the need the admin toggles; neither is
#: used by the world, and both are put back after the test.
SEDE_SAVED = "PETEN"
NEED_TOGGLED = "LEGAL"


def _record_need(family, user, code: str) -> int:
    items = NeedsBatchSchema().load({"items": [{"need": code, "action": "identified"}]})["items"]
    [family_need] = need_services.record_needs(family, items, user)
    db.session.commit()
    return family_need.id


@pytest.fixture
def world(app: Flask) -> Iterator[World]:
    with app.app_context():
        users = {
            name: make_partner(k.institution)
            if k.institution
            else make_user(k.role, centre=k.centre, sede=k.sede)
            for name, k in USERS.items()
            if k.role
        }
        fag_desk, tecun_desk = users["reception_fag"], users["reception_tecun"]
        fag = make_arrival(fag_desk, centre="FAG")
        tecun = make_arrival(tecun_desk, centre="TECUN_UMAN", mode="land", country="MX")
        cuilco = make_family(fag_desk, fag, municipality="Cuilco, Huehuetenango")
        nebaj = make_family(
            tecun_desk,
            tecun,
            municipality=1413,  # Nebaj, Quiché
            members=[
                member("Catarina", "Tzoc Brito"),
                member("Gaspar", "Tzoc Brito", sex="M", relationship="SON", age=5),
            ],
        )
        sides, markers = {}, {}
        for side, family, arrival, desk in ((FAG, cuilco, fag, fag_desk), (TECUN, nebaj, tecun, tecun_desk)):
            need_id = _record_need(family, desk, "MEDICAL")
            referral = refer(family, desk, REFERRED_TO[side], send=True)
            sides[side] = {
                "family_id": family.id,
                "arrival_id": arrival.id,
                "referral_id": referral.id,
                "need_id": need_id,
            }
            markers[side] = {
                "family": [
                    family.case_number,
                    referral.number,
                    family.members[0].surnames,
                    f'/cases/{family.id}"',
                ],
                "arrival": [f'/arrivals/{arrival.id}"'],
                # What the referral's institution sees of it: the slip number and the referred persons.
                "partner_referral": [
                    referral.number,
                    family.members[0].surnames,
                    f'/partner/referrals/{referral.id}"',
                ],
            }
        sede = by_code(Sede, SEDE_SAVED)
        need = by_code(Need, NEED_TOGGLED)
        coverage = sorted(m.id for m in sede.municipalities)
        toggled_need_id, need_was_active = need.id, need.is_active
        sede_id = sede.id
        world = World(
            sides=sides,
            catalog={
                # An account of its own: the admin's routes change it (a second factor reset).
                "user_id": make_user("reception", centre="FAG").id,
                # No such session: ending it changes nothing.
                "session_id": 2**31 - 1,
                "token_id": 2**31 - 1,
                "sede_id": sede.id,
                "institution_id": by_code(Institution, "OIM").id,
                "need_id": need.id,
            },
            markers=markers,
            usernames={name: user.username for name, user in users.items()},
            sede_coverage=coverage,
        )
        db.session.remove()
    yield world
    with app.app_context():
        db.session.execute(update(Need).where(Need.id == toggled_need_id).values(is_active=need_was_active))
        db.session.execute(
            sede_municipalities.delete().where(
                (sede_municipalities.c.sede_id == sede_id)
                | sede_municipalities.c.municipality_id.in_(coverage)
            )
        )
        if coverage:
            db.session.execute(
                sede_municipalities.insert(), [{"sede_id": sede_id, "municipality_id": m} for m in coverage]
            )
        db.session.commit()
        db.session.remove()


# --- The tests -----------------------------------------------------------------------------------


def test_every_route_is_in_the_matrix(app: Flask):
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = [(route.rule, route.method) for route in MATRIX]
    missing = sorted(served - set(listed))
    assert not missing, (
        "Routes missing from the access matrix: "
        + ", ".join(f"{method} {rule}" for rule, method in missing)
        + ". Add each one to MATRIX in tests/core/test_access_matrix.py with the permission it needs "
        "and the scope its object is read through."
    )
    stale = sorted(set(listed) - served)
    assert not stale, f"MATRIX lists routes the app no longer serves: {stale}"
    assert len(listed) == len(set(listed)), "a route is listed twice in MATRIX"
    assert listed[-1] == ("/logout", "POST"), "/logout must come last: it ends the shared session"


def _hidden_markers(world: World, user: str) -> list[str]:
    """What must never show on this user's pages: the objects of the scopes they are out of, except
    what they see through another scope (a partner sees its referral's number and persons, not the case).
    """
    hidden: list[str] = []
    seen: set[str] = set()
    for scope, sides in SCOPE.items():
        for side, seen_by in sides.items():
            markers = world.markers[side][scope]
            if user in seen_by:
                seen.update(markers)
            else:
                hidden += markers
    return [marker for marker in hidden if marker not in seen]


def _shows(body: str, marker: str) -> bool:
    """``marker`` on the page, not as the end of a longer code: the case number FAG-2026-00001 is not
    shown by the slip number REF-FAG-2026-00001."""
    return re.search(rf"(?<![\w-]){re.escape(marker)}", body) is not None


@pytest.mark.parametrize("user", list(USERS))
def test_access_matrix(app: Flask, world: World, user: str):
    client = app.test_client()
    if USERS[user].role is not None:
        signed_in = client.post("/login", data={"username": world.usernames[user], "password": PASSWORD})
        assert signed_in.status_code == 302
        if signed_in.location == "/login/code":
            with app.app_context():
                db.session.execute(
                    update(User).where(User.username == world.usernames[user]).values(totp_last_step=None)
                )
                db.session.commit()
            assert client.post("/login/code", data={"code": totp_code()}).status_code == 302
    hidden = _hidden_markers(world, user)
    failures = []
    for route in MATRIX:
        for side in route.sides:
            url = world.url(route, side)
            data = route.data(world) if callable(route.data) else route.data
            if route.json is not None:
                response = client.open(url, method=route.method, json=route.json)
            else:
                response = client.open(
                    url, method=route.method, data=data if route.method == "POST" else None
                )
            want = expected(route, user, side)
            where = f"{route.method} {url} ({route.rule}{', ' + side + ' side' if side else ''})"
            if not want.accepts(response):
                got = f"{response.status_code}"
                if response.status_code == 302:
                    got += f" → {response.location}"
                elif response.status_code == 200:
                    got += f" {response.mimetype}"
                failures.append(f"{where}: expected {want.label}, got {got}")
            elif response.status_code == 200 and response.mimetype in ("text/html", "application/json"):
                body = response.get_data(as_text=True)
                leaked = [marker for marker in hidden if _shows(body, marker)]
                if leaked:
                    failures.append(f"{where}: shows what is out of {user}'s scope: {leaked}")
    assert not failures, f"{user}:\n" + "\n".join(failures)


@pytest.mark.parametrize("user", list(USERS))
def test_api_access_matrix_with_tokens(app: Flask, world: World, user: str):
    """The API's routes again, as an integration calls them: with the user's personal token and no
    session (the anonymous with none). The same answers as through a session, and no leak in the JSON."""
    from sosep_migrantes.auth.tokens import create_token

    headers = {}
    if USERS[user].role is not None:
        with app.app_context():
            account = db.session.scalar(db.select(User).where(User.username == world.usernames[user]))
            headers["Authorization"] = "Bearer " + create_token(account, "Matriz", 1, created_by=None).secret
            db.session.commit()
    client = app.test_client()
    hidden = _hidden_markers(world, user)
    failures = []
    for route in (route for route in MATRIX if route.is_api):
        for side in route.sides:
            url = world.url(route, side)
            response = client.open(url, method=route.method, json=route.json, headers=headers)
            want = expected(route, user, side)
            if not want.accepts(response):
                failures.append(f"{route.method} {url}: expected {want.label}, got {response.status_code}")
            elif response.status_code in (200, 201) and response.mimetype == "application/json":
                body = response.get_data(as_text=True)
                leaked = [marker for marker in hidden if _shows(body, marker)]
                if leaked:
                    failures.append(f"{route.method} {url}: shows what is out of {user}'s scope: {leaked}")
    assert "Set-Cookie" not in response.headers or USERS[user].role is None
    assert not failures, f"{user} (token):\n" + "\n".join(failures)
