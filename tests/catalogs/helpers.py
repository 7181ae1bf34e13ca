"""Helpers shared by the tests that change the institutions' contact data (printed on the slips)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import select

from sosep_migrantes.catalogs.contacts import CONTACT_FIELDS
from sosep_migrantes.catalogs.models import Institution
from sosep_migrantes.extensions import db


def set_contacts(code: str, **values: str | None) -> Institution:
    """Give an institution these contact values (the others emptied) and commit."""
    institution = db.session.scalars(select(Institution).where(Institution.code == code)).one()
    for name in CONTACT_FIELDS:
        setattr(institution, name, values.get(name))
    db.session.commit()
    return institution


def contacts_of(code: str) -> dict[str, str | None]:
    institution = db.session.scalars(select(Institution).where(Institution.code == code)).one()
    return {name: getattr(institution, name) for name in CONTACT_FIELDS}


@contextmanager
def contacts_restored(app: Flask) -> Iterator[None]:
    """The institutions are shared by the whole test session: put their contact data back afterwards."""
    with app.app_context():
        saved = {
            i.code: {name: getattr(i, name) for name in CONTACT_FIELDS}
            for i in db.session.scalars(select(Institution))
        }
        db.session.remove()
    try:
        yield
    finally:
        with app.app_context():
            for institution in db.session.scalars(select(Institution)):
                for name, value in saved[institution.code].items():
                    setattr(institution, name, value)
            db.session.commit()
            db.session.remove()
