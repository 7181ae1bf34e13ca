"""Input schemas of a family unit and its members: the same ones serve the HTML form and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, post_load, pre_load, validate, validates_schema

from ..catalogs.fields import CatalogCode, MunicipalityRef
from ..catalogs.models import (
    DocumentType,
    FamilyRelationship,
    Language,
    MigrationReason,
    ProtectionCause,
    Pueblo,
)
from ..catalogs.services import municipalities_per_department
from ..core.cui import check_cui
from ..core.schema import (
    AsciiInteger,
    FilterSchema,
    InputSchema,
    UniqueList,
    boolean,
    choice,
    date,
    date_between,
    integer,
    not_in_future,
    raise_if,
    submission_token,
    text,
)
from ..core.text import clean
from ..core.timeutil import age_on, today_local
from .models import CaseStatus, ConsentType, Pregnancy, Sex

MAX_MEMBERS = 25
#: The Departamento de Atención a Unidades Familiares Migrantes starts: no arrival is older, and no
#: consent given at one either.
EARLIEST_ARRIVAL = dt.date(2014, 1, 1)
PHONE = validate.Regexp(
    r"^\+?[0-9][0-9 ()-]{6,18}[0-9]$",
    error=_l("Teléfono no válido: escriba 8 dígitos, o el número con código de país (+502 ...)."),
)


class MemberSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    #: Present when editing an existing member.
    id = integer()
    given_names = text(required=True, max_length=120)
    surnames = text(required=True, max_length=120)
    sex = choice([s.value for s in Sex], _l("Elija mujer u hombre."), required=True)
    birth_date = date()
    estimated_age = integer(
        validate=validate.Range(min=0, max=120, error=_l("La edad debe estar entre 0 y 120 años."))
    )
    relationship = CatalogCode(FamilyRelationship, required=True)
    cui = text(max_length=20)
    #: Staff confirm a CUI whose unofficial check digit fails (a warning, not an error).
    cui_check_confirmed = boolean()
    document_type = CatalogCode(DocumentType)
    document_number = text(max_length=60)
    pueblo = CatalogCode(Pueblo)
    languages = UniqueList(CatalogCode(Language), load_default=list)
    needs_interpreter = boolean()
    has_disability = boolean()
    disability_notes = text(max_length=300)
    pregnancy = choice([p.value for p in Pregnancy])
    health_notes = text(max_length=1000)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def check_member(self, data: dict[str, Any], original: Any = None, **kwargs: Any) -> None:
        errors: dict[str, str] = {}
        today = today_local()
        birth = data.get("birth_date")
        typed = original if isinstance(original, dict) else {}
        # An age or a date typed but wrong has its own message; "give one of them" would be a second
        # error caused by the first (and would draw the eye to the wrong field).
        typed_either = any(str(typed.get(key) or "").strip() for key in ("birth_date", "estimated_age"))
        if birth is None and data.get("estimated_age") is None and not typed_either:
            errors["birth_date"] = str(_l("Indique la fecha de nacimiento o la edad estimada."))
        elif birth is not None:
            problem = not_in_future(birth, today)
            if problem:
                errors["birth_date"] = problem
            elif age_on(birth, today) > 120:
                errors["birth_date"] = str(_l("La fecha de nacimiento es de hace más de 120 años."))
        if data.get("cui"):
            result = check_cui(data["cui"], municipalities_per_department())
            if result.error:
                errors["cui"] = result.error
            elif result.warning and not data.get("cui_check_confirmed"):
                errors["cui_check_confirmed"] = result.warning
        if data.get("document_number") and not data.get("document_type"):
            errors["document_type"] = str(_l("Indique qué documento es."))
        if data.get("document_type") and not data.get("document_number"):
            errors["document_number"] = str(_l("Escriba el número del documento."))
        if data.get("pregnancy") and data.get("sex") == Sex.MALE:
            errors["pregnancy"] = str(_l("El embarazo o la lactancia solo se registran para mujeres."))
        raise_if(errors)

    @post_load
    def normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        for key in ("given_names", "surnames", "document_number", "disability_notes", "health_notes"):
            if key in data:
                data[key] = clean(data[key])
        if data.get("cui"):
            data["cui"] = check_cui(data["cui"], municipalities_per_department()).normalized
        if data.get("disability_notes"):
            # Notes about a disability say there is one, even if the box was left unticked.
            data["has_disability"] = True
        return data


class FamilyUnitSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    submission_token = submission_token()
    #: The version the user started editing from (optimistic locking); only for edits.
    version = integer()
    destination_municipality = MunicipalityRef(required=True)
    community = text(max_length=160)
    address = text(max_length=300)
    phone = fields.String(allow_none=True, validate=PHONE)
    migration_reasons = UniqueList(CatalogCode(MigrationReason), load_default=list)
    protection_causes = UniqueList(CatalogCode(ProtectionCause), load_default=list)
    consent_type = choice(
        [c.value for c in ConsentType],
        _l("Indique si la familia dio su consentimiento y cómo."),
        required=True,
    )
    consent_witness = text(max_length=160)
    consent_on = date()
    notes = text(max_length=4000)
    members = fields.List(
        fields.Nested(MemberSchema),
        required=True,
        validate=validate.Length(
            min=1, max=MAX_MEMBERS, error=_l("Registre entre {min} y {max} integrantes.")
        ),
        error_messages={"required": _l("Registre al menos un integrante.")},
    )

    @validates_schema(skip_on_field_errors=False)
    def check_family(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        consent = data.get("consent_type")
        if consent in (ConsentType.WRITTEN, ConsentType.VERBAL_WITNESS):
            if data.get("consent_on") is None:
                errors["consent_on"] = str(_l("Indique la fecha del consentimiento."))
            else:
                today = today_local()
                problem = not_in_future(data["consent_on"], today) or date_between(
                    data["consent_on"], EARLIEST_ARRIVAL, today
                )
                if problem:
                    errors["consent_on"] = problem
        if consent == ConsentType.VERBAL_WITNESS and not data.get("consent_witness"):
            errors["consent_witness"] = str(_l("El consentimiento verbal requiere el nombre del testigo."))
        members = data.get("members") or []
        heads = [
            m for m in members if isinstance(m, dict) and getattr(m.get("relationship"), "code", "") == "HEAD"
        ]
        ids = [m.get("id") for m in members if isinstance(m, dict) and m.get("id")]
        if len(ids) != len(set(ids)):
            errors["members_summary"] = str(
                _l("Un mismo integrante aparece en dos filas. Vuelva a cargar el formulario.")
            )
        elif members and len(heads) != 1:
            errors["members_summary"] = str(
                _l(
                    "La unidad familiar debe tener exactamente un(a) jefe(a) de familia; hay %(n)d.",
                    n=len(heads),
                )
            )
        raise_if(errors)

    @post_load
    def normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        for key in ("community", "address", "phone", "consent_witness", "notes"):
            if key in data:
                data[key] = clean(data[key])
        if data.get("consent_type") == ConsentType.REFUSED:
            data["consent_on"] = None
            data["consent_witness"] = None
        return data


_ARRIVAL_DAYS = validate.Range(min=EARLIEST_ARRIVAL, max=dt.date(2100, 12, 31))


class CaseFilterSchema(FilterSchema):
    """The case list's filters and page, from the session and the posted form (or the query string).

    Filters come from untrusted input and a bookmark may be old: :meth:`load_ignoring_errors` drops a
    malformed value (an unknown status, a date in 9999, a 40-digit id) instead of failing the page.
    The search text ``q`` is loaded here but kept nowhere (see ``cases/views.py``).
    """

    class Meta:
        unknown = EXCLUDE

    centre_id = AsciiInteger(6)
    department_id = AsciiInteger(6)
    status = fields.String(allow_none=True, validate=validate.OneOf([s.value for s in CaseStatus]))
    arrived_from = fields.Date(allow_none=True, validate=_ARRIVAL_DAYS)
    arrived_to = fields.Date(allow_none=True, validate=_ARRIVAL_DAYS)
    protection_only = fields.Boolean(data_key="protection", load_default=False)
    q = fields.String(allow_none=True)
    page = AsciiInteger(6, load_default=1, validate=validate.Range(min=1))

    @pre_load
    def drop_empty(self, data: Any, **kwargs: Any) -> Any:
        """An empty select or date input (or a value not sent) means 'no filter'."""
        if isinstance(data, dict):
            return {
                k: v for k, v in data.items() if v is not None and not (isinstance(v, str) and not v.strip())
            }
        return data

    @post_load
    def clean_search(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["q"] = (data.get("q") or "").strip()[:100] or None
        return data
