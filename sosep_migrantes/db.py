"""Declarative base, naming convention and shared column types."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import DateTime, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

intpk = Annotated[int, mapped_column(primary_key=True)]
str_code = Annotated[str, mapped_column(String(40))]
str_name = Annotated[str, mapped_column(String(200))]
#: Timezone-aware timestamp set by the database when the row is created.
created_at_col = Annotated[
    dt.datetime, mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
]


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={dt.datetime: DateTime(timezone=True), str: String(255)},
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def in_dialect(obj: Any, dialect_name: str) -> bool:
    """Whether a schema object exists on this kind of database (``info={"dialect": ...}`` says where).

    Alembic's comparison of migrations and models asks this, so an index built only on PostgreSQL
    (the trigram search index) is not reported missing on SQLite.
    """
    return obj.info.get("dialect", dialect_name) == dialect_name
