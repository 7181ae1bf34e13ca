"""Loading and looking up the catalogues."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from flask import g, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.schema import is_ascii_number
from ..core.text import fold
from ..extensions import db
from .contacts import apply_contacts, parse_contacts
from .models import (
    SIMPLE_CATALOGS,
    CatalogMixin,
    Centre,
    Department,
    Institution,
    Municipality,
    Need,
    Sede,
    sede_municipalities,
)

DATA_DIR = Path(__file__).parent / "data"
#: The institutions' public contact data shipped with the service (see ``data/README.md``).
CONTACTS_FILE = "institutions_contacts.csv"
C = TypeVar("C", bound=CatalogMixin)


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_catalogs() -> dict[str, int]:
    """Insert the shipped reference data that is missing; never overwrite what an admin edited.

    Idempotent: run on every ``make run`` and by ``flask catalogs load``. Returns rows added per table.
    """
    added: dict[str, int] = {}

    departments = {d.id for d in db.session.scalars(select(Department))}
    new_departments = [
        Department(id=int(r["code"]), name=r["name"])
        for r in _rows("departments.csv")
        if int(r["code"]) not in departments
    ]
    db.session.add_all(new_departments)
    added["departments"] = len(new_departments)
    db.session.flush()

    municipalities = set(db.session.scalars(select(Municipality.id)))
    new_municipalities = [
        Municipality(id=int(r["code"]), department_id=int(r["department_code"]), name=r["name"])
        for r in _rows("municipalities.csv")
        if int(r["code"]) not in municipalities
    ]
    db.session.add_all(new_municipalities)
    added["municipalities"] = len(new_municipalities)
    db.session.flush()

    centres = set(db.session.scalars(select(Centre.code)))
    new_centres = [
        Centre(code=r["code"], name=r["name"], mode=r["mode"], municipality_id=int(r["municipality_code"]))
        for r in _rows("centres.csv")
        if r["code"] not in centres
    ]
    db.session.add_all(new_centres)
    added["centres"] = len(new_centres)

    sedes = {s.code: s for s in db.session.scalars(select(Sede))}
    new_sedes = [
        Sede(code=r["code"], name=r["name"], department_id=int(r["department_code"]))
        for r in _rows("sedes.csv")
        if r["code"] not in sedes
    ]
    db.session.add_all(new_sedes)
    added["sedes"] = len(new_sedes)
    db.session.flush()
    if new_sedes:
        # Coverage is seeded only for sedes created now; later an admin owns it.
        by_code = {s.code: s.id for s in new_sedes}
        covered = set(db.session.scalars(select(sede_municipalities.c.municipality_id)))
        links = [
            {"sede_id": by_code[r["sede_code"]], "municipality_id": int(r["municipality_code"])}
            for r in _rows("sede_municipalities.csv")
            if r["sede_code"] in by_code and int(r["municipality_code"]) not in covered
        ]
        if links:
            db.session.execute(sede_municipalities.insert(), links)
        added["sede_municipalities"] = len(links)

    for filename, model in SIMPLE_CATALOGS.items():
        existing = set(db.session.scalars(select(model.code)))
        new_entries = [
            model(code=r["code"], name_es=r["name_es"], name_en=r["name_en"], sort_order=int(r["sort_order"]))
            for r in _rows(filename)
            if r["code"] not in existing
        ]
        db.session.add_all(new_entries)
        added[model.__tablename__] = len(new_entries)
    db.session.flush()
    added["institutions"] = _load_institutions()
    added["institution_contacts"] = _fill_institution_contacts()
    if any(added.values()):
        audit.record(AuditAction.CATALOGS_LOAD, "catalogs", None, added=added)
    return added


def _load_institutions() -> int:
    existing = set(db.session.scalars(select(Institution.code)))
    needs = {n.code: n for n in db.session.scalars(select(Need))}
    links: dict[str, list[Need]] = {}
    for row in _rows("institution_needs.csv"):
        links.setdefault(row["institution_code"], []).append(needs[row["need_code"]])
    new = [
        Institution(
            code=r["code"],
            name_es=r["name_es"],
            name_en=r["name_en"],
            kind=r["kind"],
            is_sosep=r["is_sosep"] == "1",
            sort_order=int(r["sort_order"]),
            needs=links.get(r["code"], []),
        )
        for r in _rows("institutions.csv")
        if r["code"] not in existing
    ]
    db.session.add_all(new)
    db.session.flush()
    return len(new)


def _fill_institution_contacts() -> int:
    """Fill the contact fields left empty from the shipped ``institutions_contacts.csv``.

    Only what is empty: what an admin typed (or loaded from a file of its own) stays. Returns how many
    institutions got a field.
    """
    content = (DATA_DIR / CONTACTS_FILE).read_text(encoding="utf-8")
    known = db.session.scalars(select(Institution.code)).all()
    return len(apply_contacts(parse_contacts(content, known), only_empty=True))


def _cache() -> dict[Any, Any]:
    if not has_app_context():
        return {}
    if "catalog_cache" not in g:
        g.catalog_cache = {}
    cache: dict[Any, Any] = g.catalog_cache
    return cache


def active_items(model: type[C]) -> Sequence[C]:
    """Active entries of a simple catalogue, in display order (cached for the request)."""
    cache = _cache()
    key = ("items", model)
    if key not in cache:
        cache[key] = db.session.scalars(
            select(model).where(model.is_active.is_(True)).order_by(model.sort_order, model.name_es)
        ).all()
    items: Sequence[C] = cache[key]
    return items


def by_code(model: type[C], code: str) -> C | None:
    cache = _cache()
    key = ("by_code", model)
    if key not in cache:
        cache[key] = {item.code: item for item in db.session.scalars(select(model))}
    items: dict[str, C] = cache[key]
    return items.get(code)


def all_centres() -> Sequence[Centre]:
    return db.session.scalars(select(Centre).order_by(Centre.id)).all()


def centre_by_code(code: str) -> Centre | None:
    return db.session.scalar(select(Centre).where(Centre.code == code))


def all_departments() -> Sequence[Department]:
    return db.session.scalars(select(Department).order_by(Department.id)).all()


def all_municipalities() -> Sequence[Municipality]:
    cache = _cache()
    if "municipalities" not in cache:
        cache["municipalities"] = db.session.scalars(
            select(Municipality).order_by(Municipality.department_id, Municipality.name)
        ).all()
    municipalities: Sequence[Municipality] = cache["municipalities"]
    return municipalities


def find_municipality(value: str | int) -> Municipality | None:
    """A municipality by INE code (``1301``) or by the label staff type (``Cuilco, Huehuetenango``).

    A bare name is accepted when it is unique in the country ("Santa María Nebaj" or "Cuilco", but not
    "San Pedro Sacatepéquez", which exists in Guatemala and in San Marcos).
    """
    text = str(value).strip()
    if is_ascii_number(text, max_digits=4):
        return db.session.get(Municipality, int(text))
    wanted = fold(text)
    municipalities = all_municipalities()
    exact = [m for m in municipalities if fold(m.label) == wanted]
    if exact:
        return exact[0]
    by_name = [m for m in municipalities if fold(m.name) == wanted]
    return by_name[0] if len(by_name) == 1 else None


def municipalities_per_department() -> dict[int, int]:
    cache = _cache()
    if "muni_counts" not in cache:
        rows = db.session.execute(
            select(Municipality.department_id, func.count()).group_by(Municipality.department_id)
        )
        cache["muni_counts"] = {dept: count for dept, count in rows}
    counts: dict[int, int] = cache["muni_counts"]
    return counts


def sede_for_municipality(municipality_id: int) -> Sede | None:
    return db.session.scalar(
        select(Sede).join(sede_municipalities).where(sede_municipalities.c.municipality_id == municipality_id)
    )


def sede_names_by_municipality() -> dict[int, str]:
    """Which sede covers each municipality, for the hint shown while typing a destination."""
    rows = db.session.execute(
        select(sede_municipalities.c.municipality_id, Sede.name).join(
            Sede, Sede.id == sede_municipalities.c.sede_id
        )
    )
    return {municipality_id: name for municipality_id, name in rows}


def coverage_counts() -> dict[int, int]:
    """How many municipalities each sede covers (one query for the whole list)."""
    rows = db.session.execute(
        select(sede_municipalities.c.sede_id, func.count()).group_by(sede_municipalities.c.sede_id)
    )
    return {sede_id: count for sede_id, count in rows}


def all_sedes() -> Sequence[Sede]:
    return db.session.scalars(
        select(Sede).options(joinedload(Sede.department)).order_by(Sede.department_id, Sede.name)
    ).all()


def sede_by_code(code: str) -> Sede | None:
    return db.session.scalar(select(Sede).where(Sede.code == code))


def set_sede_coverage(
    sede: Sede, municipality_ids: Sequence[int], *, confirm_empty: bool = False
) -> list[int]:
    """Make ``sede`` cover exactly these municipalities, taking them from any other sede.

    A sede left with no municipality (this one, given none, or another one whose every municipality is
    taken) loses all its cases from its users' sight: refused unless ``confirm_empty``, and the message
    names the sedes. Returns the ids that moved from another sede, so the admin can be told.
    """
    wanted = set(municipality_ids)
    known = set(db.session.scalars(select(Municipality.id).where(Municipality.id.in_(wanted))))
    if wanted - known:
        raise ServiceError({"municipalities": _("Elija una opción de la lista.")})
    moved = list(
        db.session.scalars(
            select(sede_municipalities.c.municipality_id).where(
                sede_municipalities.c.municipality_id.in_(wanted), sede_municipalities.c.sede_id != sede.id
            )
        )
    )
    emptied = _sedes_left_empty(sede, wanted)
    if emptied and not confirm_empty:
        raise ServiceError(
            {
                "confirm_empty": _(
                    "%(sedes)s quedaría sin municipios y sus usuarios dejarían de ver sus casos. "
                    "Si es lo que quiere, marque la casilla de confirmación y guarde otra vez.",
                    sedes=", ".join(s.name for s in emptied),
                )
            }
        )
    db.session.execute(
        sede_municipalities.delete().where(
            (sede_municipalities.c.sede_id == sede.id) | sede_municipalities.c.municipality_id.in_(wanted)
        )
    )
    if wanted:
        db.session.execute(
            sede_municipalities.insert(), [{"sede_id": sede.id, "municipality_id": m} for m in sorted(wanted)]
        )
    db.session.expire(sede, ["municipalities"])
    audit.record(
        AuditAction.SEDE_COVERAGE,
        "sede",
        sede.id,
        municipalities=sorted(wanted),
        moved=sorted(moved),
        left_empty=[s.id for s in emptied],
    )
    return moved


def _sedes_left_empty(sede: Sede, wanted: set[int]) -> list[Sede]:
    """The sedes that cover some municipality now and would cover none once ``sede`` covers ``wanted``."""
    covered: dict[int, set[int]] = {}
    for sede_id, municipality_id in db.session.execute(
        select(sede_municipalities.c.sede_id, sede_municipalities.c.municipality_id)
    ):
        covered.setdefault(sede_id, set()).add(municipality_id)
    emptied_ids = [
        sede_id
        for sede_id, municipalities in covered.items()
        if sede_id != sede.id and municipalities <= wanted
    ]
    emptied = [s for s in (db.session.get(Sede, sede_id) for sede_id in emptied_ids) if s is not None]
    return [sede, *emptied] if not wanted else emptied


def all_institutions() -> Sequence[Institution]:
    return db.session.scalars(select(Institution).order_by(Institution.sort_order, Institution.name_es)).all()


def all_needs() -> Sequence[Need]:
    return db.session.scalars(select(Need).order_by(Need.sort_order, Need.name_es)).all()


def _code_taken(model: type[CatalogMixin], code: str, own_id: int | None) -> bool:
    other = db.session.scalar(select(model.id).where(model.code == code))
    return other is not None and other != own_id


#: What an admin edits on an institution (besides the needs it serves).
INSTITUTION_FIELDS = (
    "code",
    "name_es",
    "name_en",
    "kind",
    "is_sosep",
    "address",
    "phone",
    "email",
    "contact_person",
    "is_active",
)


def save_institution(institution: Institution | None, data: dict[str, Any]) -> Institution:
    """Create or update an institution (its contact data is printed on referral slips)."""
    if _code_taken(Institution, data["code"], institution.id if institution else None):
        raise ServiceError({"code": _("Ya existe una institución con ese código.")})
    if institution is None:
        institution = Institution(sort_order=1000)
        db.session.add(institution)
    for field in INSTITUTION_FIELDS:
        setattr(institution, field, data.get(field))
    institution.needs = list(data.get("needs") or [])
    db.session.flush()
    audit.record(AuditAction.INSTITUTION_SAVE, "institution", institution.id, code=institution.code)
    return institution


def save_need(data: dict[str, Any]) -> Need:
    if _code_taken(Need, data["code"], None):
        raise ServiceError({"code": _("Ya existe una necesidad con ese código.")})
    need = Need(code=data["code"], name_es=data["name_es"], name_en=data["name_en"], sort_order=1000)
    db.session.add(need)
    db.session.flush()
    audit.record(AuditAction.NEED_CREATE, "need", need.id, code=need.code)
    return need


def toggle_need(need: Need) -> Need:
    need.is_active = not need.is_active
    audit.record(AuditAction.NEED_TOGGLE, "need", need.id, is_active=need.is_active)
    return need
