"""Declarative base, naming convention and shared column types."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import Annotated, Any

from sqlalchemy import CheckConstraint, Constraint, DateTime, Enum, MetaData, String, Table, func
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry


def _check_name(constraint: Constraint, table: Table) -> str:
    """The ``<name>`` of ``ck_<table>_<name>``: the name a CHECK was given, or its column's for an enum's.

    An enum column's CHECK would otherwise be named after the enum class, and a table with two columns
    of one enum (``referral_events.from_status`` and ``to_status``) would get two constraints of one name.
    """
    if not isinstance(constraint, CheckConstraint):  # the token is only used in the "ck" name
        return str(constraint.name)
    columns = list(constraint.columns)
    if len(columns) == 1 and isinstance(columns[0].type, Enum) and constraint.name == columns[0].type.name:
        return columns[0].name
    return str(constraint.name)


NAMING_CONVENTION: dict[str, str | Callable[[Constraint, Table], str]] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "constraint_name": _check_name,
}

#: A ``Mapped[SomeStrEnum]`` column: a VARCHAR holding the members' values with a CHECK listing them, the
#: same on SQLite and PostgreSQL (no native ENUM type: adding a value is a CHECK to replace, not a type to
#: alter). Values are read back as the enum's members; a string outside the enum is refused before the
#: database sees it. 20 characters leave room for a longer value without rewriting the table.
enum_column = Enum(
    enum.StrEnum,
    native_enum=False,
    create_constraint=True,
    length=20,
    values_callable=lambda members: [m.value for m in members],
    validate_strings=True,
)

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
        type_annotation_map={
            dt.datetime: DateTime(timezone=True),
            str: String(255),
            # A StrEnum is a str too; the look-up follows the class's MRO, where StrEnum comes first.
            enum.StrEnum: enum_column,
        },
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def in_dialect(obj: Any, dialect_name: str) -> bool:
    """Whether a schema object exists on this kind of database (``info={"dialect": ...}`` says where).

    Alembic's comparison of migrations and models asks this, so an index built only on PostgreSQL
    (the trigram search index) is not reported missing on SQLite.
    """
    dialect: str = obj.info.get("dialect", dialect_name)
    return dialect == dialect_name
