"""What the family form needs: choices, and values from an existing family or a submitted form."""

from __future__ import annotations

import re
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l

from ..catalogs.models import (
    DocumentType,
    FamilyRelationship,
    Language,
    MigrationReason,
    ProtectionCause,
    Pueblo,
)
from ..catalogs.services import active_items, all_municipalities, by_code, sede_names_by_municipality
from ..core.forms import form_to_data
from ..core.schema import new_submission_token
from ..core.timeutil import today_local
from .models import CONSENT_LABELS, PREGNANCY_LABELS, SEX_LABELS, FamilyUnit

MULTI_FIELDS = ("languages", "migration_reasons", "protection_causes")


def submitted_values() -> dict[str, Any]:
    return form_to_data(request.form, multi=MULTI_FIELDS, lists=("members",))


def form_choices() -> dict[str, Any]:
    return {
        "relationships": active_items(FamilyRelationship),
        "pueblos": active_items(Pueblo),
        "languages": active_items(Language),
        "document_types": active_items(DocumentType),
        "migration_reasons": active_items(MigrationReason),
        "protection_causes": active_items(ProtectionCause),
        "municipalities": all_municipalities(),
        "municipality_sedes": sede_names_by_municipality(),
        "consent_labels": CONSENT_LABELS,
        "sex_labels": SEX_LABELS,
        "pregnancy_labels": PREGNANCY_LABELS,
        "flabels": FAMILY_LABELS,
        "mlabels": MEMBER_LABELS,
        "summarise": summarise_errors,
    }


def new_family_values() -> dict[str, Any]:
    """A blank family: one row for the head, consent dated today."""
    return {
        "consent_on": today_local().strftime("%d/%m/%Y"),
        "members": [{"relationship": "HEAD"}],
        "submission_token": new_submission_token(),
    }


def family_values(family: FamilyUnit) -> dict[str, Any]:
    """The form's values for an existing family (strings, as a browser would post them)."""
    return {
        "version": str(family.version),
        "destination_municipality": family.destination.label,
        "community": family.community or "",
        "address": family.address or "",
        "phone": family.phone or "",
        "migration_reasons": [r.code for r in family.migration_reasons],
        "protection_causes": [c.code for c in family.protection_causes],
        "consent_type": family.consent_type,
        "consent_witness": family.consent_witness or "",
        "consent_on": family.consent_on.strftime("%d/%m/%Y") if family.consent_on else "",
        "notes": family.notes or "",
        "members": [
            {
                "id": str(m.id),
                "given_names": m.given_names,
                "surnames": m.surnames,
                "sex": m.sex,
                "birth_date": m.birth_date.strftime("%d/%m/%Y") if m.birth_date else "",
                "estimated_age": "" if m.estimated_age is None else str(m.estimated_age),
                "relationship": m.relationship_to_head.code,
                "cui": m.cui or "",
                "cui_check_confirmed": m.cui_check_confirmed,
                "document_type": m.document_type.code if m.document_type else "",
                "document_number": m.document_number or "",
                "pueblo": m.pueblo.code if m.pueblo else "",
                "languages": [lang.code for lang in m.languages],
                "needs_interpreter": m.needs_interpreter,
                "has_disability": m.has_disability,
                "disability_notes": m.disability_notes or "",
                "pregnancy": m.pregnancy or "",
                "health_notes": m.health_notes or "",
            }
            for m in family.members
        ],
    }


FAMILY_LABELS = {
    "destination_municipality": _l("Municipio de destino"),
    "community": _l("Comunidad, aldea o colonia"),
    "address": _l("Dirección"),
    "phone": _l("Teléfono de contacto"),
    "migration_reasons": _l("Motivos de la migración"),
    "protection_causes": _l("Causas de riesgo de protección"),
    "consent_type": _l("Consentimiento para el tratamiento de datos"),
    "consent_witness": _l("Testigo del consentimiento verbal"),
    "consent_on": _l("Fecha del consentimiento"),
    "notes": _l("Observaciones"),
}
MEMBER_LABELS = {
    "given_names": _l("Nombres"),
    "surnames": _l("Apellidos"),
    "sex": _l("Sexo"),
    "birth_date": _l("Fecha de nacimiento"),
    "estimated_age": _l("Edad estimada (años)"),
    "relationship": _l("Parentesco con el/la jefe(a)"),
    "cui": _l("CUI (DPI)"),
    "cui_check_confirmed": _l("CUI confirmado"),
    "document_type": _l("Otro documento"),
    "document_number": _l("Número de documento"),
    "pueblo": _l("Pueblo"),
    "languages": _l("Idiomas"),
    "needs_interpreter": _l("Necesita intérprete"),
    "has_disability": _l("Discapacidad"),
    "disability_notes": _l("Detalle de la discapacidad"),
    "pregnancy": _l("Embarazo o lactancia"),
    "health_notes": _l("Notas de salud"),
}


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return sorted(value)
    if value in (None, "", "on", "true"):
        return {"on": True, "true": True}.get(value, "")
    return str(value)


def unsaved_changes(submitted: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field label, what the user typed, what is saved now) for each field the user had different.

    Shown after an edit conflict, so the user can re-apply their changes on top of the current data.
    """
    rows: list[tuple[str, str, str]] = []
    for key, label in FAMILY_LABELS.items():
        mine, theirs = _norm(submitted.get(key)), _norm(current.get(key))
        if mine != theirs:
            rows.append((str(label), _show(mine, key), _show(theirs, key)))
    current_members = {m.get("id"): m for m in current.get("members", [])}
    for index, member in enumerate(submitted.get("members", []), start=1):
        saved = current_members.get(member.get("id"), {})
        for key, label in MEMBER_LABELS.items():
            mine, theirs = _norm(member.get(key)), _norm(saved.get(key))
            if mine != theirs:
                rows.append((f"{_l('Integrante')} {index} · {label}", _show(mine, key), _show(theirs, key)))
    return rows


#: Fields whose values are codes, and how to name them for a person.
_CODED: dict[str, Any] = {
    "relationship": FamilyRelationship,
    "document_type": DocumentType,
    "pueblo": Pueblo,
    "languages": Language,
    "migration_reasons": MigrationReason,
    "protection_causes": ProtectionCause,
    "sex": SEX_LABELS,
    "pregnancy": PREGNANCY_LABELS,
    "consent_type": CONSENT_LABELS,
}


def _name(key: str, code: str) -> str:
    source = _CODED.get(key)
    if isinstance(source, dict):
        return str(source.get(code, code))
    item = by_code(source, code) if source is not None else None
    return item.name if item is not None else code


def _show(value: Any, key: str = "") -> str:
    if value is True:
        return "✓"
    if value in ("", None, False, []):
        return "—"
    values = value if isinstance(value, list) else [value]
    return ", ".join(_name(key, str(v)) for v in values)


#: The family form's fields in the order the page shows them (the error summary follows it).
FAMILY_ORDER = (
    "destination_municipality",
    "consent_type",
    "consent_on",
    "consent_witness",
    "members_summary",
    "members",
    "phone",
    "community",
    "address",
    "migration_reasons",
    "protection_causes",
    "notes",
)
MEMBER_ORDER = (
    "given_names",
    "surnames",
    "relationship",
    "sex",
    "estimated_age",
    "birth_date",
    "cui",
    "cui_check_confirmed",
    "languages",
    "needs_interpreter",
    "document_type",
    "document_number",
    "pueblo",
    "pregnancy",
    "has_disability",
    "disability_notes",
    "health_notes",
)
_MEMBER_ERROR = re.compile(r"^members-(\d+)-(\w+)$")
_LINE_ERROR = re.compile(r"^(needs|referrals)-(\d+)-(\w+)$")


def summarise_errors(errors: dict[str, str]) -> list[tuple[str, str]]:
    """``(field key, "Integrante 2 · Apellidos: este campo es obligatorio.")`` in the order of the page,
    so the summary says which field of which member, and each line links to its field."""

    def rank(key: str) -> tuple[int, int, int]:
        if match := _MEMBER_ERROR.match(key):
            field = match[2]
            return (FAMILY_ORDER.index("members"), int(match[1]), _index(MEMBER_ORDER, field))
        if match := _LINE_ERROR.match(key):
            return (len(FAMILY_ORDER) + (match[1] == "referrals"), int(match[2]), 0)
        return (_index(FAMILY_ORDER, key), 0, 0)

    summary = []
    for key in sorted(errors, key=rank):
        message = str(errors[key])
        if match := _MEMBER_ERROR.match(key):
            label = MEMBER_LABELS.get(match[2])
            where = str(_l("Integrante %(n)s", n=int(match[1]) + 1))
            text = f"{where} · {label}: {_lower_first(message)}" if label else f"{where}: {message}"
        elif key in FAMILY_LABELS:
            text = f"{FAMILY_LABELS[key]}: {_lower_first(message)}"
        else:
            text = message
        summary.append((key, text))
    return summary


def _index(order: tuple[str, ...], key: str) -> int:
    return order.index(key) if key in order else len(order)


def _lower_first(message: str) -> str:
    return message[:1].lower() + message[1:] if message[:2] != message[:2].upper() else message
