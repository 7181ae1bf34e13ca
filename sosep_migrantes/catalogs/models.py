"""Reference data: centres, territory (INE departments and municipalities), sedes and small lists."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, intpk


class Department(Base):
    __tablename__ = "departments"

    #: INE department code, 1..22.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(80))

    municipalities: Mapped[list[Municipality]] = relationship(
        back_populates="department", order_by="Municipality.name"
    )


class Municipality(Base):
    __tablename__ = "municipalities"

    #: INE code: department * 100 + municipality (108 = Mixco).
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))

    department: Mapped[Department] = relationship(back_populates="municipalities", lazy="joined")

    @property
    def label(self) -> str:
        """What staff type and see: 'Cuilco, Huehuetenango' (names repeat across departments)."""
        return f"{self.name}, {self.department.name}"


sede_municipalities = Table(
    "sede_municipalities",
    Base.metadata,
    Column("sede_id", ForeignKey("sedes.id", ondelete="CASCADE"), primary_key=True),
    #: A municipality is covered by one sede at most (unique), so a case has one sede.
    Column("municipality_id", ForeignKey("municipalities.id"), primary_key=True, unique=True),
)


class Sede(Base):
    """A SOSEP departmental office; it follows up the families whose destination it covers."""

    __tablename__ = "sedes"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))

    department: Mapped[Department] = relationship()
    municipalities: Mapped[list[Municipality]] = relationship(
        secondary=sede_municipalities, order_by="Municipality.id"
    )


class TransportMode(enum.StrEnum):
    """How families arrive: by air (FAG, La Aurora) or by land (Tecún Umán)."""

    AIR = "air"
    LAND = "land"

    @property
    def label(self) -> str:
        return str(TRANSPORT_MODE_LABELS[self])


TRANSPORT_MODE_LABELS = {TransportMode.AIR: _l("Aérea"), TransportMode.LAND: _l("Terrestre")}


class Centre(Base):
    """A reception centre (FAG, La Aurora, Tecún Umán)."""

    __tablename__ = "centres"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    #: The default mode of the arrivals it receives.
    mode: Mapped[TransportMode]
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))


class CatalogMixin:
    """A small list with a stable code and a Spanish and an English name."""

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_es: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(default=100)
    is_active: Mapped[bool] = mapped_column(default=True)

    if TYPE_CHECKING:
        # What every mapped subclass has, for code that holds one as ``type[CatalogMixin]``.
        __tablename__: str

        def __init__(self, **kwargs: Any) -> None: ...

    @property
    def name(self) -> str:
        locale = get_locale()
        return self.name_en if locale is not None and locale.language == "en" else self.name_es


class Country(CatalogMixin, Base):
    __tablename__ = "countries"


class Pueblo(CatalogMixin, Base):
    __tablename__ = "pueblos"


class Language(CatalogMixin, Base):
    __tablename__ = "languages"


class FamilyRelationship(CatalogMixin, Base):
    """Relationship of a member to the head of the family unit."""

    __tablename__ = "family_relationships"


class MigrationReason(CatalogMixin, Base):
    __tablename__ = "migration_reasons"


class ProtectionCause(CatalogMixin, Base):
    """A cause that calls for a priority referral (threats, extortion, violence...)."""

    __tablename__ = "protection_causes"


class DocumentType(CatalogMixin, Base):
    """An identity document other than the CUI."""

    __tablename__ = "document_types"


class Need(CatalogMixin, Base):
    """A need identified at reception (food, hygiene kit, legal advice...)."""

    __tablename__ = "needs"


class InstitutionKind(enum.StrEnum):
    SOSEP = "sosep"
    GOVERNMENT = "government"
    NGO = "ngo"
    INTERNATIONAL = "international"


INSTITUTION_KIND_LABELS = {
    InstitutionKind.SOSEP: _l("Programa de la SOSEP"),
    InstitutionKind.GOVERNMENT: _l("Institución de gobierno"),
    InstitutionKind.NGO: _l("Organización no gubernamental"),
    InstitutionKind.INTERNATIONAL: _l("Organismo internacional"),
}

institution_needs = Table(
    "institution_needs",
    Base.metadata,
    Column("institution_id", ForeignKey("institutions.id", ondelete="CASCADE"), primary_key=True),
    Column("need_id", ForeignKey("needs.id"), primary_key=True),
)


class Institution(CatalogMixin, Base):
    """Where a family can be referred: a SOSEP programme or a partner institution."""

    __tablename__ = "institutions"
    kind: Mapped[InstitutionKind]
    #: A SOSEP programme; a referral anywhere else shares the family's data and needs its consent.
    is_sosep: Mapped[bool] = mapped_column(default=False)
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(60))
    email: Mapped[str | None] = mapped_column(String(120))
    contact_person: Mapped[str | None] = mapped_column(String(160))

    needs: Mapped[list[Need]] = relationship(secondary=institution_needs, order_by="Need.sort_order")

    @property
    def kind_label(self) -> str:
        return str(INSTITUTION_KIND_LABELS[InstitutionKind(self.kind)])

    @property
    def missing_for_slip(self) -> list[str]:
        """What a referral slip to this institution cannot print: its address, a phone or an email.

        The slip leaves out what is unknown; the admin's list shows these so that they get filled. A
        contact person alone is no way to reach anyone, so it does not complete the contact.
        """
        missing = []
        if not self.address:
            missing.append(str(_l("dirección")))
        if not (self.phone or self.email):
            missing.append(str(_l("teléfono o correo electrónico")))
        return missing


#: File name (in ``catalogs/data``) of each simple catalogue.
SIMPLE_CATALOGS: dict[str, type[CatalogMixin]] = {
    "countries.csv": Country,
    "pueblos.csv": Pueblo,
    "languages.csv": Language,
    "relationships.csv": FamilyRelationship,
    "migration_reasons.csv": MigrationReason,
    "protection_causes.csv": ProtectionCause,
    "document_types.csv": DocumentType,
    "needs.csv": Need,
}
