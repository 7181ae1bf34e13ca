"""Input schema of an arrival (form and API)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, post_load, validates_schema

from ..catalogs.fields import CatalogCode
from ..catalogs.models import Country, TransportMode
from ..core.schema import REQUIRED, InputSchema, LocalDateTime, choice, raise_if, text
from ..core.text import clean
from ..core.timeutil import local_naive_to_utc, today_local
from ..db import utcnow

#: The SOSEP department for migrant family units was created in 2014: nothing arrived before.
EARLIEST_ARRIVAL = dt.date(2014, 1, 1)


class ArrivalSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    #: Centre code; a reception user can only use their own centre (checked by the service).
    centre = fields.String(required=True, error_messages=REQUIRED)
    #: Guatemala local time when no zone is given (``2026-11-23T14:30``); with an offset, converted to
    #: Guatemala time before the checks below.
    arrived_at = LocalDateTime(required=True, error_messages=REQUIRED)
    mode = choice([m.value for m in TransportMode], _l("Elija aérea o terrestre."), required=True)
    country = CatalogCode(Country, required=True)
    origin = text(max_length=120)
    transport_ref = text(max_length=60)
    notes = text(max_length=1000)

    @validates_schema(skip_on_field_errors=False)
    def check_time(self, data: dict[str, Any], **kwargs: Any) -> None:
        arrived_at = data.get("arrived_at")
        if arrived_at is None:
            return
        # In Guatemala's time (LocalDateTime converted any offset). Checked on the date first: a year
        # like 9999 would overflow the conversion to UTC.
        if arrived_at.date() < EARLIEST_ARRIVAL:
            raise_if({"arrived_at": str(_l("La fecha de llegada es demasiado antigua (desde 2014)."))})
        if arrived_at.date() > today_local() + dt.timedelta(days=3) or (
            arrived_at > utcnow() + dt.timedelta(days=2)
        ):
            raise_if({"arrived_at": str(_l("La llegada no puede ser de más de dos días en el futuro."))})

    @post_load
    def normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["arrived_at"] = local_naive_to_utc(data["arrived_at"])
        for key in ("origin", "transport_ref", "notes"):
            data[key] = clean(data.get(key))
        return data
