"""Family units (the *case*) and their members."""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalogs.models import (
    Centre,
    DocumentType,
    FamilyRelationship,
    Institution,
    Language,
    MigrationReason,
    Municipality,
    ProtectionCause,
    Pueblo,
)
from ..core.timeutil import age_on, to_local
from ..db import Base, created_at_col, intpk
from ..reception.models import Arrival
from .phonetic import MemberKeyKind


class CaseStatus(enum.StrEnum):
    #: Created from an arrival's passenger list before the family reached the desk (issue #11): not yet
    #: received, so no list, inbox or report counts it until the desk confirms it.
    PREREGISTERED = "preregistered"
    RECEIVED = "received"
    REFERRED = "referred"
    IN_FOLLOWUP = "in_followup"
    LINKED = "linked"
    CLOSED = "closed"


CASE_STATUS_LABELS = {
    CaseStatus.PREREGISTERED: _l("Pre-registrada (lista de pasajeros)"),
    CaseStatus.RECEIVED: _l("Recibida en el centro"),
    CaseStatus.REFERRED: _l("Derivada"),
    CaseStatus.IN_FOLLOWUP: _l("En seguimiento"),
    CaseStatus.LINKED: _l("Vinculada a un programa"),
    CaseStatus.CLOSED: _l("Cerrada"),
}


class ConsentType(enum.StrEnum):
    WRITTEN = "written"
    VERBAL_WITNESS = "verbal_witness"
    REFUSED = "refused"


CONSENT_LABELS = {
    ConsentType.WRITTEN: _l("Escrito (firmado)"),
    ConsentType.VERBAL_WITNESS: _l("Verbal ante testigo"),
    ConsentType.REFUSED: _l("No otorgado"),
}


class Sex(enum.StrEnum):
    FEMALE = "F"
    MALE = "M"


SEX_LABELS = {Sex.FEMALE: _l("Mujer"), Sex.MALE: _l("Hombre")}


class Pregnancy(enum.StrEnum):
    PREGNANT = "pregnant"
    LACTATING = "lactating"


PREGNANCY_LABELS = {Pregnancy.PREGNANT: _l("Embarazada"), Pregnancy.LACTATING: _l("En período de lactancia")}

family_migration_reasons = Table(
    "family_migration_reasons",
    Base.metadata,
    Column("family_id", ForeignKey("family_units.id", ondelete="CASCADE"), primary_key=True),
    Column("reason_id", ForeignKey("migration_reasons.id"), primary_key=True),
)

family_protection_causes = Table(
    "family_protection_causes",
    Base.metadata,
    Column("family_id", ForeignKey("family_units.id", ondelete="CASCADE"), primary_key=True),
    Column("cause_id", ForeignKey("protection_causes.id"), primary_key=True),
)

member_languages = Table(
    "member_languages",
    Base.metadata,
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("language_id", ForeignKey("languages.id"), primary_key=True),
)


class FamilyUnit(Base):
    """A *unidad familiar migrante retornada*: the case the service tracks from reception to linkage."""

    __tablename__ = "family_units"
    __table_args__ = (
        UniqueConstraint("centre_id", "case_year", "case_seq", name="uq_family_units_case"),
        # A passenger list's family group becomes one family of its arrival, however often it is uploaded.
        UniqueConstraint("arrival_id", "passenger_group", name="uq_family_units_passenger_group"),
        # Only a family pre-registered from a passenger list waits for its consent (asked at the desk).
        CheckConstraint("consent_type IS NOT NULL OR status = 'preregistered'", name="consent_known"),
        Index("ix_family_units_status", "status"),
        # Name, CUI and case-number search (``LIKE '%word%'``) through trigrams, on PostgreSQL only;
        # SQLite reads the table, which is fine at its scale (migration 0004).
        Index(
            "ix_family_units_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            info={"dialect": "postgresql"},
        ).ddl_if(dialect="postgresql"),
        # The sede inbox: a sede's open cases by due date (followup.queries).
        Index("ix_family_units_followup_due_on", "followup_due_on"),
        # Days from arrival to first contact, per sede, over the last year (followup.queries).
        Index("ix_family_units_first_contact_on", "first_contact_on"),
    )

    id: Mapped[intpk]
    #: ``FAG-2026-00042``: centre code, year of arrival, sequence per centre and year.
    case_number: Mapped[str] = mapped_column(String(30), unique=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    case_year: Mapped[int]
    case_seq: Mapped[int]
    arrival_id: Mapped[int] = mapped_column(ForeignKey("arrivals.id"), index=True)
    status: Mapped[CaseStatus] = mapped_column(default=CaseStatus.RECEIVED)
    #: Where the family goes to live; it decides which sede follows the case up.
    destination_municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    community: Mapped[str | None] = mapped_column(String(160))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    #: Null only while pre-registered: the family is asked at the desk (``consent_known``).
    consent_type: Mapped[ConsentType | None]
    #: Name of the witness of a verbal consent.
    consent_witness: Mapped[str | None] = mapped_column(String(160))
    consent_on: Mapped[dt.date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    #: Follow-up state, kept by ``followup.services.refresh_case`` from the case's events (never set by
    #: hand): when the next contact falls due (null once linked or closed), the first and the latest
    #: contact, and when the case last moved to another sede. The inbox sorts and counts on them.
    followup_due_on: Mapped[dt.date | None]
    first_contact_on: Mapped[dt.date | None]
    last_contact_on: Mapped[dt.date | None]
    transferred_at: Mapped[dt.datetime | None]
    #: The family has at least one protection-risk cause (kept with the causes by ``cases.services``).
    protection_risk: Mapped[bool] = mapped_column(default=False)
    #: Folded (lower-case, unaccented) case number, names and CUIs of the members, for search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    #: Random token of the form that registered the family: the same form sent again (a retry on a
    #: shaky connection) finds this family instead of registering it twice.
    submission_token: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: Optimistic lock: an edit made on a stale version is refused, never silently overwritten.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When ``flask retention anonymise`` removed the personal data of this case, closed longer ago than
    #: the retention period (``ops.retention``); null while the case keeps it.
    anonymised_at: Mapped[dt.datetime | None]
    #: The family group's reference in the passenger list it was pre-registered from (``FAM-12``); null
    #: for a family registered at the desk. Unique per arrival: uploading a list again adds no copy.
    passenger_group: Mapped[str | None] = mapped_column(String(40))

    centre: Mapped[Centre] = relationship(lazy="joined")
    arrival: Mapped[Arrival] = relationship(lazy="joined")
    destination: Mapped[Municipality] = relationship(lazy="joined")
    members: Mapped[list[Member]] = relationship(
        back_populates="family", order_by="Member.position", cascade="all, delete-orphan"
    )
    migration_reasons: Mapped[list[MigrationReason]] = relationship(
        secondary=family_migration_reasons, order_by="MigrationReason.sort_order"
    )
    protection_causes: Mapped[list[ProtectionCause]] = relationship(
        secondary=family_protection_causes, order_by="ProtectionCause.sort_order"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def head(self) -> Member | None:
        return next((m for m in self.members if m.is_head), self.members[0] if self.members else None)

    @property
    def status_label(self) -> str:
        return str(CASE_STATUS_LABELS[CaseStatus(self.status)])

    @property
    def consent_label(self) -> str:
        if self.consent_type is None:
            return str(_l("Pendiente (se pregunta en el escritorio)"))
        return str(CONSENT_LABELS[ConsentType(self.consent_type)])

    @property
    def is_preregistered(self) -> bool:
        return self.status == CaseStatus.PREREGISTERED

    @property
    def has_consent(self) -> bool:
        """The family agreed, in writing or aloud before a witness, that its data may be shared."""
        return self.consent_type in (ConsentType.WRITTEN, ConsentType.VERBAL_WITNESS)

    def may_refer_to(self, institution: Institution) -> bool:
        """SOSEP's own programmes need no consent; any other institution receives the family's data."""
        return institution.is_sosep or self.has_consent


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("birth_date IS NOT NULL OR estimated_age IS NOT NULL", name="age_known"),
    )

    id: Mapped[intpk]
    family_id: Mapped[int] = mapped_column(ForeignKey("family_units.id", ondelete="CASCADE"), index=True)
    #: Order within the family as registered (the head first).
    position: Mapped[int] = mapped_column(default=0)
    given_names: Mapped[str] = mapped_column(String(120))
    surnames: Mapped[str] = mapped_column(String(120))
    sex: Mapped[Sex]
    birth_date: Mapped[dt.date | None]
    #: Age in years estimated at arrival, when the date of birth is unknown.
    estimated_age: Mapped[int | None]
    relationship_id: Mapped[int] = mapped_column(ForeignKey("family_relationships.id"))
    cui: Mapped[str | None] = mapped_column(String(13), index=True)
    #: Staff confirmed a CUI whose (unofficial) check digit does not match.
    cui_check_confirmed: Mapped[bool] = mapped_column(default=False)
    document_type_id: Mapped[int | None] = mapped_column(ForeignKey("document_types.id"))
    document_number: Mapped[str | None] = mapped_column(String(60))
    pueblo_id: Mapped[int | None] = mapped_column(ForeignKey("pueblos.id"))
    needs_interpreter: Mapped[bool] = mapped_column(default=False)
    has_disability: Mapped[bool] = mapped_column(default=False)
    disability_notes: Mapped[str | None] = mapped_column(String(300))
    #: Null when neither applies.
    pregnancy: Mapped[Pregnancy | None]
    health_notes: Mapped[str | None] = mapped_column(String(1000))

    family: Mapped[FamilyUnit] = relationship(back_populates="members")
    relationship_to_head: Mapped[FamilyRelationship] = relationship(lazy="joined")
    document_type: Mapped[DocumentType | None] = relationship(lazy="joined")
    pueblo: Mapped[Pueblo | None] = relationship(lazy="joined")
    languages: Mapped[list[Language]] = relationship(
        secondary=member_languages, order_by="Language.sort_order"
    )

    @property
    def full_name(self) -> str:
        # An anonymised member (ops.retention) has empty names: a dash, as for any missing value.
        return f"{self.given_names} {self.surnames}".strip() or "—"

    @property
    def is_head(self) -> bool:
        return self.relationship_to_head is not None and self.relationship_to_head.code == "HEAD"

    def age_at(self, on: dt.date) -> int:
        return age_on(self.birth_date, on, estimated=self.estimated_age)

    @property
    def age_at_arrival(self) -> int:
        return self.age_at(to_local(self.family.arrival.arrived_at).date())

    @property
    def sex_label(self) -> str:
        return str(SEX_LABELS[Sex(self.sex)])

    @property
    def pregnancy_label(self) -> str:
        return str(PREGNANCY_LABELS[Pregnancy(self.pregnancy)]) if self.pregnancy else ""


class MemberKey(Base):
    """A phonetic key a member is found by as an earlier record of a returning person (issue #12).

    Kept by every write of a member (``cases.services.refresh_member_keys``, the bulk generator, the
    migration's backfill) from :func:`~.phonetic.member_keys`; removed with the names when a case is
    anonymised. Looked up by equality on ``key`` (btree), so one person's candidates read a few index
    entries at a million persons.
    """

    __tablename__ = "member_keys"
    __table_args__ = (
        # On PostgreSQL the index also carries what the search reads of each key found, so it reads no
        # table row to rank them (an index-only scan).
        Index("ix_member_keys_key", "key", postgresql_include=["member_id", "name_key"]),
    )

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MemberKeyKind]
    #: ``"lps mr 1990"`` (a pair and a year) or ``"lps 1990-05-03"`` (a word and a date of birth).
    key: Mapped[str] = mapped_column(String(80))
    #: The member's whole name, folded (``phonetic.name_key``): the search decides on it before reading.
    name_key: Mapped[str] = mapped_column(String(200))
