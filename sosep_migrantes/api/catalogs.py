"""``/api/v1/catalogs``: the reference lists an integration needs to send codes the forms accept."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..catalogs import models
from ..catalogs.services import active_items, all_centres, all_municipalities, all_sedes
from ..core.permissions import login_required
from .common import errors

blp = Blueprint(
    "api_catalogs",
    __name__,
    url_prefix="/catalogs",
    description="Catálogos: códigos de parentesco, documentos, necesidades, instituciones, municipios...",
)

#: The coded lists, by their name in the URL.
CODED: dict[str, type[models.CatalogMixin]] = {
    "countries": models.Country,
    "pueblos": models.Pueblo,
    "languages": models.Language,
    "relationships": models.FamilyRelationship,
    "migration-reasons": models.MigrationReason,
    "protection-causes": models.ProtectionCause,
    "document-types": models.DocumentType,
    "needs": models.Need,
    "institutions": models.Institution,
}
OTHER = ("centres", "sedes", "municipalities")


class CatalogItemSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class CatalogSchema(Schema):
    name = fields.String(required=True)
    items = fields.List(fields.Nested(CatalogItemSchema), required=True)


class CatalogNamesSchema(Schema):
    catalogs = fields.List(fields.String(), required=True)


def _items(name: str) -> list[dict[str, Any]]:
    english = str(get_locale()) == "en"
    if name in CODED:
        return [
            {"code": item.code, "name": item.name_en if english else item.name_es}
            for item in active_items(CODED[name])
        ]
    if name == "centres":
        return [{"code": c.code, "name": c.name} for c in all_centres()]
    if name == "sedes":
        return [{"code": s.code, "name": s.name} for s in all_sedes()]
    # Municipalities by their INE code (what ``destination_municipality`` takes), with the department.
    return [{"code": str(m.id), "name": f"{m.name}, {m.department.name}"} for m in all_municipalities()]


@blp.route("/")
class Catalogs(MethodView):
    @login_required
    @blp.response(200, CatalogNamesSchema)
    @errors(blp, 401)
    def get(self) -> dict[str, Any]:
        """The names of the catalogues."""
        return {"catalogs": [*CODED, *OTHER]}


@blp.route("/<string:name>")
class Catalog(MethodView):
    @login_required
    @blp.response(200, CatalogSchema)
    @errors(blp, 401, 404)
    def get(self, name: str) -> dict[str, Any]:
        """The active entries of one catalogue: the code to send and the name to show."""
        if name not in CODED and name not in OTHER:
            abort(404)
        return {"name": name, "items": _items(name)}
