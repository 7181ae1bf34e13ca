"""Partner institutions' users for the tests (``tests.factories.make_user`` binds centres and sedes)."""

from __future__ import annotations

import itertools

from sosep_migrantes.auth import services as auth_services
from sosep_migrantes.auth.models import User
from sosep_migrantes.extensions import db
from tests.factories import PASSWORD

_counter = itertools.count(1)


def make_partner(
    institution: str = "OIM", *, full_name: str = "Ana López", username: str | None = None
) -> User:
    """A user of a partner institution, created through the service as the admin's form does."""
    user = auth_services.create_user(
        {
            "username": username or f"partner{next(_counter)}",
            "full_name": full_name,
            "role": "partner",
            "institution": institution,
            "password": PASSWORD,
        }
    )
    db.session.commit()
    return user
