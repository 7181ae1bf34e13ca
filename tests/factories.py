"""Factories: users, arrivals and family payloads (as the form or the API would send them)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sosep_migrantes.auth import services as auth_services
from sosep_migrantes.auth.models import User
from sosep_migrantes.cases.schemas import FamilyUnitSchema
from sosep_migrantes.cases.services import register_family
from sosep_migrantes.catalogs.models import Country
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from sosep_migrantes.reception.services import create_arrival

PASSWORD = "correct-horse-battery"
#: The authenticator secret of the test accounts whose role needs a second factor (admin, coordinator).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_counter = itertools.count(1)


def make_user(
    role: str = "reception",
    *,
    centre: str | None = None,
    sede: str | None = None,
    username: str | None = None,
    password: str = PASSWORD,
) -> User:
    if role == "reception" and centre is None:
        centre = "FAG"
    user = auth_services.create_user(
        {
            "username": username or f"{role}{next(_counter)}",
            "full_name": f"Usuario {role}",
            "role": role,
            "centre": centre,
            "sede": sede,
            "password": password,
        }
    )
    if role in ("admin", "coordinator"):
        user.totp_secret = TOTP_SECRET
    db.session.commit()
    return user


def totp_code(secret: str = TOTP_SECRET) -> str:
    import pyotp

    from sosep_migrantes.auth.sessions import now

    return pyotp.TOTP(secret).at(now())


def make_arrival(
    user: User,
    *,
    centre: str = "FAG",
    when: dt.datetime | None = None,
    mode: str = "air",
    country: str = "US",
) -> Arrival:
    arrival = create_arrival(
        {
            "centre": centre,
            "arrived_at": (when or dt.datetime(2026, 11, 20, 10, 30, tzinfo=LOCAL_TZ)).astimezone(dt.UTC),
            "mode": mode,
            "country": by_code(Country, country),
            "origin": "Laredo, TX",
            "transport_ref": "GUA123",
        },
        user,
    )
    db.session.commit()
    return arrival


def member(
    given: str = "María",
    surnames: str = "López Pérez",
    *,
    sex: str = "F",
    relationship: str = "HEAD",
    age: int | None = 34,
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "given_names": given,
        "surnames": surnames,
        "sex": sex,
        "relationship": relationship,
    }
    if age is not None:
        data["estimated_age"] = age
    data.update(extra)
    return data


def family_payload(
    *, municipality: str | int = "Cuilco, Huehuetenango", members: list[dict] | None = None, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "destination_municipality": municipality,
        "consent_type": "written",
        "consent_on": "2026-11-20",
        "members": members
        or [
            member(),
            member("José", "López Pérez", sex="M", relationship="SON", age=8),
        ],
    }
    data.update(extra)
    return data


def form_data(payload: dict[str, Any]) -> dict[str, Any]:
    """The flat form fields a browser posts for ``payload``."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "members":
            for i, row in enumerate(value):
                for field, field_value in row.items():
                    flat[f"members-{i}-{field}"] = field_value
        else:
            flat[key] = value
    return flat


def make_family(user: User, arrival: Arrival, **payload: Any):
    data = FamilyUnitSchema().load(family_payload(**payload))
    family = register_family(arrival, data, user)
    db.session.commit()
    return family


def login(client, user: Any, password: str = PASSWORD):
    """Sign in as the browser would: the password, then (accounts with one) the authenticator's code."""
    response = client.post("/login", data={"username": user.username, "password": password})
    assert response.status_code == 302, response.data
    if user.totp_secret:
        # Each code is good once: let the same account sign in again within its 30 seconds.
        with client.application.app_context():
            db.session.execute(db.update(User).where(User.id == user.id).values(totp_last_step=None))
            db.session.commit()
        response = client.post("/login/code", data={"code": totp_code(user.totp_secret)})
        assert response.status_code == 302, response.data
    return response


def sign_in_as(client, username: str, password: str = PASSWORD):
    """:func:`login` by user name; the password step's response (a wrong password's 400 included)."""
    response = client.post("/login", data={"username": username, "password": password})
    if response.status_code == 302 and response.location == "/login/code":
        with client.application.app_context():
            secret = db.session.scalar(db.select(User.totp_secret).where(User.username == username))
            db.session.execute(db.update(User).where(User.username == username).values(totp_last_step=None))
            db.session.commit()
        assert client.post("/login/code", data={"code": totp_code(secret)}).status_code == 302
    return response
