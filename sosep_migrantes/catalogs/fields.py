"""Schema fields that load catalogue entries: a code ("HEAD", "KICHE") or a municipality's label.

They live here, not in ``core/schema.py``, because they read the catalogues: core sits below catalogs.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import fields

from ..core.schema import REQUIRED
from .models import CatalogMixin
from .services import by_code, find_municipality


class CatalogCode(fields.Field[Any]):
    """A catalogue entry given by its code ("HEAD", "KICHE"); loads to the ORM object.

    An inactive entry is refused, unless ``allow_inactive`` (the admin's own catalogue pages, which list
    inactive entries so that they can still be unticked).
    """

    default_error_messages = {**REQUIRED, "invalid": _l("Elija una opción de la lista.")}

    def __init__(self, model: type[CatalogMixin], *, allow_inactive: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", not kwargs.get("required", False))
        super().__init__(**kwargs)
        self.model = model
        self.allow_inactive = allow_inactive

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        item = by_code(self.model, str(value).strip()) if value not in (None, "") else None
        if item is None or not (item.is_active or self.allow_inactive):
            raise self.make_error("invalid")
        return item

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.code


class MunicipalityRef(fields.Field[Any]):
    """A municipality by INE code or by the 'Municipio, Departamento' label typed in the form."""

    default_error_messages = {
        **REQUIRED,
        "invalid": _l("Escriba el municipio y elíjalo de la lista (por ejemplo: Cuilco, Huehuetenango)."),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        municipality = find_municipality(value) if value not in (None, "") else None
        if municipality is None:
            raise self.make_error("invalid")
        return municipality

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.id
