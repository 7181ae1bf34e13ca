"""Bulk synthetic data: a million persons in about a minute, with the invariants of the services.

The service-driven :class:`~.generator.DemoGenerator` registers one family at a time through
``register_family`` (a few hundred persons a second): right for a demo, far too slow to size the
system. This module builds the same kind of data as plain tuples and writes them with PostgreSQL
``COPY`` (``executemany`` on SQLite, for small runs and tests), keeping what the services guarantee:

- case numbers ``CENTRE-YEAR-00042`` gap-free per centre and local year of arrival, continuing the
  ``number_sequences`` counters, which are left at the last number given so the desk carries on;
- referral slip numbers ``REF-CENTRE-YEAR-00012`` the same way, per year the referral was made;
- ``search_text`` as :func:`~sosep_migrantes.cases.services.refresh_search_text` folds it;
- the members' phonetic keys (``member_keys``) as :func:`~sosep_migrantes.cases.phonetic.member_keys`
  makes them (from :func:`~sosep_migrantes.cases.phonetic.name_part`, kept per name);
- referral events in the order of the referral's life, the status of the last one on the referral;
- the sede's follow-up of each family (contacts, linkage, transfers, closures and reopenings, recorded
  by a sede account per sede), and the case's status, next due date, first and last contact as
  :mod:`~sosep_migrantes.followup.rules` decides them from those events (the same functions
  ``refresh_case`` calls, so the two cannot drift apart);
- an audit event for each change the services would audit, with the same ``details``, the case's
  ``family:status`` changes included.

:func:`~.checks.check_consistency` verifies all this on whatever is in the database.

Distributions: years 2019 to ``until`` shaped like the national returnee totals, months with some
seasonality, the route shares, centres, destinations, family sizes, names and CUIs of
:mod:`.generator`, the needs the desk records and referrals to what the eligibility rules suggest,
with outcomes as far as time has let them happen. The follow-up runs to ``until``: families that
arrived more than about six months before it are mostly closed (linked above all; then not located
after the attempts the rules ask for, re-migrated, declined, a few deceased or other reasons), some stay
linked, and the recent ones spread over received, referred and in follow-up, some of them overdue.
"""

from __future__ import annotations

import calendar
import datetime as dt
import multiprocessing
import random
import time
import traceback
from bisect import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

from sqlalchemy import select, text

from ..cases.models import CaseStatus
from ..cases.phonetic import combine, name_part
from ..catalogs.models import (
    CatalogMixin,
    Country,
    DocumentType,
    FamilyRelationship,
    Institution,
    Language,
    MigrationReason,
    Municipality,
    Need,
    ProtectionCause,
    Pueblo,
)
from ..core.text import fold
from ..core.timeutil import LOCAL_TZ
from ..extensions import db
from ..followup import rules
from ..followup.services import settings as followup_settings
from ..referrals.eligibility import PRIORITY_MIGRATION_REASONS, PRIORITY_MUNICIPALITIES
from ..referrals.models import WITHOUT_SLIP
from .generator import (
    CONTACT_TYPE_WEIGHTS,
    CONTACT_TYPES,
    CONTACTED_PERSONS,
    DEPARTMENT_LANGUAGE,
    DEPARTMENT_WEIGHTS,
    ENDS_WITH_LAST_CONTACT,
    FEMALE,
    FOLLOWUP_NOTES,
    LATE_CONTACT,
    LINKED_THEN_CLOSED,
    MALE,
    MAX_CONTACTS,
    NEVER_CONTACTED,
    NEXT_ACTIONS,
    ONGOING_DAYS,
    OTHER_CLOSURE_NOTE,
    OUTSIDE_SERVICES,
    PROTECTION,
    REOPEN_NOTES,
    REOPENABLE,
    REOPENED,
    RETRY_ACTION,
    SOSEP_PROGRAMMES,
    STORIES,
    STORY_WEIGHTS,
    SURNAMES,
    TRANSFER_REASONS,
    TRANSFERRED,
    arrival_plan,
    sede_users,
    story_outcomes,
    transport_ref,
    valid_cui,
)

#: Changes whenever the rows generated for a seed change (the benchmark rebuilds its database then).
GENERATOR_VERSION = 6

#: Returned persons per year, in thousands: the national totals' shape (2019 high, the pandemic
#: years low, about 80 thousand in 2022-2023, 77 in 2024, 55 in 2025). Later years repeat 2025.
YEAR_SHAPE = {2019: 115, 2020: 45, 2021: 60, 2022: 82, 2023: 80, 2024: 77, 2025: 55, 2026: 55}
FIRST_YEAR = 2019
#: Relative weight of each month (January first): fewer returns around the year-end holidays.
MONTH_SHAPE = (7.0, 7.5, 8.5, 8.5, 9.5, 9.0, 9.0, 8.5, 8.0, 8.5, 8.0, 6.0)
#: 2020: flights and buses all but stopped from April to June.
PANDEMIC_2020 = {4: 0.3, 5: 0.3, 6: 0.5}
FAMILY_SIZES = (2, 3, 4, 5, 6, 7)
FAMILY_SIZE_WEIGHTS = (30, 28, 20, 12, 6, 4)
MEAN_FAMILY_SIZE = sum(s * w for s, w in zip(FAMILY_SIZES, FAMILY_SIZE_WEIGHTS, strict=True)) / sum(
    FAMILY_SIZE_WEIGHTS
)
#: Needs the desk may identify and leave pending (the service demo's list).
IDENTIFIABLE = ("MEDICAL", "PSYCHOLOGICAL", "LEGAL", "IDENTITY_DOCS", "REINTEGRATION")
STAFF = "Personal de turno"
REJECT_NOTES = (
    "La familia no cumple los criterios del programa.",
    "Fuera del área de cobertura de la institución.",
    "La familia ya recibe atención de otra institución.",
)
NOT_LOCATED_NOTES = (
    "No se localizó a la familia en la dirección indicada.",
    "El número de teléfono no responde.",
)
ATTENDED_NOTES = (None, "Vinculada al programa.", "Recibió la atención solicitada.")
DISABILITY_NOTES = ("Movilidad reducida", "Discapacidad visual", "Auditiva")
#: The note the services put on a referral a linkage marks attended.
LINKED_BY_SEDE = "Vinculación registrada por la sede."
#: Seconds from UTC midnight to Guatemala's (UTC-6 all year since 2006).
LOCAL_MIDNIGHT = 6 * 3600
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
#: Referral statuses without a slip, as text (the rows are text here).
NO_SLIP = frozenset(status.value for status in WITHOUT_SLIP)
#: Tables written, parents first (foreign keys are checked at the end of each COPY), and their columns.
TABLES: dict[str, tuple[str, ...]] = {
    "arrivals": (
        "id",
        "centre_id",
        "arrived_at",
        "mode",
        "country_id",
        "origin",
        "transport_ref",
        "created_by_id",
        "created_at",
    ),
    "family_units": (
        "id",
        "case_number",
        "centre_id",
        "case_year",
        "case_seq",
        "arrival_id",
        "status",
        "destination_municipality_id",
        "community",
        "phone",
        "consent_type",
        "consent_witness",
        "consent_on",
        "search_text",
        "version",
        "created_at",
        "created_by_id",
        "followup_due_on",
        "first_contact_on",
        "last_contact_on",
        "transferred_at",
        "protection_risk",
        "updated_at",
        "updated_by_id",
    ),
    "members": (
        "id",
        "family_id",
        "position",
        "given_names",
        "surnames",
        "sex",
        "birth_date",
        "estimated_age",
        "relationship_id",
        "cui",
        "cui_check_confirmed",
        "document_type_id",
        "document_number",
        "pueblo_id",
        "needs_interpreter",
        "has_disability",
        "disability_notes",
        "pregnancy",
    ),
    "member_languages": ("member_id", "language_id"),
    #: The phonetic keys of the returnee search (``cases.phonetic.member_keys``).
    "member_keys": ("id", "member_id", "kind", "key", "name_key"),
    "family_migration_reasons": ("family_id", "reason_id"),
    "family_protection_causes": ("family_id", "cause_id"),
    "family_needs": ("id", "family_id", "member_id", "need_id", "status", "created_at", "created_by_id"),
    "service_deliveries": (
        "id",
        "family_need_id",
        "description",
        "quantity",
        "delivered_by",
        "delivered_at",
        "created_at",
        "created_by_id",
    ),
    "referrals": (
        "id",
        "number",
        "family_id",
        "institution_id",
        "reason",
        "priority",
        "status",
        "outcome_notes",
        "created_at",
        "created_by_id",
        "updated_at",
    ),
    "referral_members": ("referral_id", "member_id"),
    "referral_needs": ("referral_id", "need_id"),
    "referral_events": ("id", "referral_id", "from_status", "to_status", "note", "created_at", "user_id"),
    "followups": (
        "id",
        "family_id",
        "contacted_on",
        "contact_type",
        "contacted_person",
        "outcome",
        "notes",
        "next_action",
        "next_action_on",
        "created_at",
        "created_by_id",
    ),
    "linkages": (
        "id",
        "family_id",
        "member_id",
        "institution_id",
        "outside_service",
        "linked_on",
        "note",
        "referral_id",
        "created_at",
        "created_by_id",
    ),
    "case_transfers": (
        "id",
        "family_id",
        "from_sede_id",
        "to_sede_id",
        "from_municipality_id",
        "to_municipality_id",
        "reason",
        "created_at",
        "created_by_id",
    ),
    "case_closures": ("id", "family_id", "kind", "reason", "note", "created_at", "created_by_id"),
    "audit_events": ("id", "created_at", "user_id", "action", "subject_type", "subject_id", "details"),
}
#: Tables whose ``id`` the run allocates (the others are association tables).
ID_TABLES = tuple(t for t, cols in TABLES.items() if cols[0] == "id")


@dataclass
class BulkResult:
    arrivals: int = 0
    families: int = 0
    persons: int = 0
    referrals: int = 0
    seconds: float = 0.0
    #: Rows written per table.
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def persons_per_second(self) -> float:
        return self.persons / self.seconds if self.seconds else 0.0


def _picker(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Callable[[], Any]:
    """A weighted choice without the per-call set-up of ``rng.choices``."""
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    rnd = rng.random
    items = tuple(items)
    last = len(items) - 1

    def pick() -> Any:
        return items[min(bisect(cum, rnd() * total), last)]

    return pick


def month_plan(until: dt.date) -> list[tuple[int, int, int, float]]:
    """(year, month, last day, weight) of each month from January 2019 to ``until``."""
    plan = []
    for year in range(FIRST_YEAR, until.year + 1):
        year_weight = YEAR_SHAPE.get(year, YEAR_SHAPE[max(YEAR_SHAPE)])
        for month in range(1, 13):
            if (year, month) > (until.year, until.month):
                break
            days = calendar.monthrange(year, month)[1]
            last = until.day if (year, month) == (until.year, until.month) else days
            weight = year_weight * MONTH_SHAPE[month - 1] * last / days
            if year == 2020:
                weight *= PANDEMIC_2020.get(month, 1.0)
            plan.append((year, month, last, weight))
    return plan


class _Catalogs:
    """Ids of the reference data by code, read once."""

    def __init__(self) -> None:
        def ids(model: type[CatalogMixin]) -> dict[str, int]:
            return {code: id_ for id_, code in db.session.execute(select(model.id, model.code))}

        self.countries = ids(Country)
        self.relationships = ids(FamilyRelationship)
        self.languages = ids(Language)
        self.pueblos = ids(Pueblo)
        self.reasons = ids(MigrationReason)
        self.causes = ids(ProtectionCause)
        self.needs = ids(Need)
        self.documents = ids(DocumentType)
        self.need_names = {code: name for code, name in db.session.execute(select(Need.code, Need.name_es))}
        self.centres = {code: id_ for id_, code in db.session.execute(text("SELECT id, code FROM centres"))}
        self.centre_codes = {v: k for k, v in self.centres.items()}
        self.municipalities: dict[int, list[int]] = {}
        for muni_id, dept in db.session.execute(
            select(Municipality.id, Municipality.department_id).order_by(Municipality.id)
        ):
            self.municipalities.setdefault(dept, []).append(muni_id)
        #: institution code -> (id, is SOSEP, ids of its first two needs in catalogue order).
        self.institutions: dict[str, tuple[int, bool, tuple[int, ...]]] = {}
        needs_of: dict[int, list[int]] = {}
        for inst_id, need_id in db.session.execute(
            text(
                "SELECT i.institution_id, i.need_id FROM institution_needs i "
                "JOIN needs n ON n.id = i.need_id ORDER BY n.sort_order, n.id"
            )
        ):
            needs_of.setdefault(inst_id, []).append(need_id)
        for inst in db.session.scalars(select(Institution).where(Institution.is_active)):
            self.institutions[inst.code] = (inst.id, inst.is_sosep, tuple(needs_of.get(inst.id, [])[:2]))
        #: Which sede follows up each municipality (``sede_municipalities``, as the admin left it).
        self.sede_of: dict[int, int] = {
            muni_id: sede_id
            for muni_id, sede_id in db.session.execute(
                text("SELECT municipality_id, sede_id FROM sede_municipalities")
            )
        }


class _Clock:
    """UTC epoch seconds to timestamp text: the date part computed once per day, the time of day
    read from a table of the 86,400 ``HH:MM:SS`` texts (with the zone suffix) built once."""

    def __init__(self, suffix: str) -> None:
        self.days: dict[int, str] = {}
        self.times = [
            f"{hours:02d}:{minutes:02d}:{seconds:02d}{suffix}"
            for hours in range(24)
            for minutes in range(60)
            for seconds in range(60)
        ]

    def __call__(self, epoch: int) -> str:
        day, rest = divmod(epoch, 86400)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = self.days[day] = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat() + " "
        return prefix + self.times[rest]


N = "\\N"  # NULL in COPY's text format


class BulkGenerator:
    """Deterministic for a seed: the same seed on the same starting database writes the same rows.

    Rows are built directly as lines of ``COPY`` text (tab-separated, ``\\N`` for null): that is what
    PostgreSQL reads fastest, and the SQLite writer splits them back into values. No value written
    here contains a tab, a newline or a backslash.
    """

    def __init__(
        self, seed: int, until: dt.date, *, chunk_persons: int = 10_000, audit_needs: bool = False
    ) -> None:
        if until.year < FIRST_YEAR:
            raise ValueError(f"until must be in {FIRST_YEAR} or later")
        self.rng = random.Random(seed)
        #: Also write the ``need:*`` audit events ``record_needs`` writes: one per need, a quarter of
        #: all the rows, so left out by default (the family and referral events are always written).
        self.audit_needs = audit_needs
        self.until = until
        self.chunk_persons = chunk_persons

    # -- the run -----------------------------------------------------------------------------------

    def run(self, persons: int, actor_id: int) -> BulkResult:
        """Write ``persons`` persons (exactly) in families, in the session's transaction.

        The caller commits. On PostgreSQL the tables written are locked for the run (readers go on;
        a registration at the desk waits), so the ids and numbers taken here cannot collide.
        """
        #: The account of each sede, which records its follow-ups (made once per database, not timed).
        self.sede_user = {sede_id: user.id for sede_id, user in sede_users().items()}
        self.settings = followup_settings()
        started = time.perf_counter()
        dialect = db.session.get_bind().dialect.name
        writer: _Writer = _PostgresWriter(persons) if dialect == "postgresql" else _SQLiteWriter()
        writer.prepare()
        self.cat = _Catalogs()
        # A sede without its account (its name taken by another) follows nobody up in this run.
        self.cat.sede_of = {m: s for m, s in self.cat.sede_of.items() if s in self.sede_user}
        self.actor = actor_id
        self.ts = _Clock("+00" if dialect == "postgresql" else "")
        self.next_id = writer.next_ids()
        first_ids = dict(self.next_id)
        self.counters = writer.counters()
        end_of_until = dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), LOCAL_TZ)
        self.now = int(min(time.time(), end_of_until.timestamp()))
        #: The follow-up's "today": the sedes have worked up to here.
        self.today = dt.datetime.fromtimestamp(self.now, LOCAL_TZ).date()
        self.result = BulkResult(rows={t: 0 for t in TABLES})
        self._setup_random()
        self._new_batch()
        if writer.in_child_process:
            self._run_in_child(persons, writer)
        else:
            self._generate(persons, writer)
            self._flush(writer)
        writer.finish(first_ids, self.next_id, self.counters)
        db.session.expire_all()
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _run_in_child(self, persons: int, writer: _Writer) -> None:
        """Generate in a forked process while this one copies what it sends.

        Generating costs about as much CPU as PostgreSQL spends reading the rows. In one process a
        writer thread and the generator share the GIL, and the thread, waiting for it after each
        send, slows both; two processes keep one core on each side. The child only computes (it
        never touches the database connection it inherits) and sends each chunk as encoded COPY
        text, then its counters and ids; the pipe holds it about one chunk ahead.
        """
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=self._child, args=(persons, sender), name="bulk-generate", daemon=True)
        child.start()
        sender.close()
        try:
            while True:
                try:
                    kind, payload = receiver.recv()
                except EOFError:
                    raise RuntimeError("the bulk generator process ended without finishing") from None
                if kind == "rows":
                    writer.write_encoded(payload)
                elif kind == "done":
                    self.next_id, self.counters, self.result = payload
                    break
                else:
                    raise RuntimeError(f"the bulk generator process failed:\n{payload}")
        except BaseException:
            if child.is_alive():
                child.kill()
            raise
        finally:
            child.join()
            receiver.close()

    def _child(self, persons: int, sender: Connection[Any, Any]) -> None:
        """The forked process: generate everything, sending chunks through ``sender``."""
        try:
            sink = _PipeSink(sender)
            self._generate(persons, sink)
            self._flush(sink)
            sender.send(("done", (self.next_id, self.counters, self.result)))
        except BaseException:
            sender.send(("error", traceback.format_exc()))
        finally:
            sender.close()

    def _new_batch(self) -> None:
        self.batch: dict[str, list[str]] = {t: [] for t in TABLES}
        self.batch_persons = 0

    def _flush(self, writer: _Sink) -> None:
        for table, rows in self.batch.items():
            self.result.rows[table] += len(rows)
        writer.write(self.batch)
        self._new_batch()

    def _setup_random(self) -> None:
        rng, cat = self.rng, self.cat
        depts = list(DEPARTMENT_WEIGHTS)
        self.pick_weighted_dept = _picker(rng, depts, [DEPARTMENT_WEIGHTS[d] for d in depts])
        self.pick_size = _picker(rng, FAMILY_SIZES, FAMILY_SIZE_WEIGHTS)
        self.pick_consent = _picker(rng, ("written", "verbal_witness", "refused"), (85, 10, 5))
        #: fold() of each name: fold of space-joined parts is the space-joined folds of the parts
        #: (none has spaces at its ends), so refresh_search_text's result is built from these.
        self.fold_cache: dict[str, str] = {}
        #: Given names or surnames -> name_part(): what the member's phonetic keys take of them.
        self.key_cache: dict[str, tuple[tuple[str, ...], str]] = {}
        #: Date ordinal -> (ISO text, year * 12 + month, day), for dates of birth.
        self.dates: dict[int, tuple[str, int, int]] = {}
        self.case_prefix: dict[tuple[int, int], tuple[str, str]] = {}
        self.rel = cat.relationships
        self.lang_es = cat.languages["ES"]
        self.lang_of_dept = {d: cat.languages[c] for d, c in DEPARTMENT_LANGUAGE.items()}
        self.maya, self.ladino = cat.pueblos["MAYA"], cat.pueblos["LADINO"]
        self.fag = cat.centres.get("FAG")
        self.need_lines = {
            code: (cat.needs[code], f'"need": "{code}", "member_id": null}}') for code in cat.needs
        }
        self.need_details = dict(self.need_lines.values())
        self.pick_story = _picker(rng, STORIES, STORY_WEIGHTS)
        self.pick_contact_type = _picker(rng, CONTACT_TYPES, CONTACT_TYPE_WEIGHTS)
        self.programmes = [code for code in SOSEP_PROGRAMMES if code in cat.institutions]
        self.day_deltas = [dt.timedelta(days=n) for n in range(400)]
        self.status_details = {
            (a, b): f'{{"from": "{a}", "to": "{b}"}}' for a in CaseStatus for b in CaseStatus if a != b
        }

    def _generate(self, persons: int, writer: _Sink) -> None:
        rng = self.rng
        plan = month_plan(self.until)
        total_weight = sum(w for *_, w in plan)
        cumulative = 0.0
        for index, (year, month, last_day, weight) in enumerate(plan):
            cumulative += weight
            target = persons if index == len(plan) - 1 else round(persons * cumulative / total_weight)
            while self.result.persons < target:
                need = target - self.result.persons
                arrivals = []
                planned = 0
                while planned * MEAN_FAMILY_SIZE < need:
                    centre, mode, country, origin, families = arrival_plan(rng)
                    day = dt.date(year, month, rng.randint(1, last_day))
                    local = dt.datetime.combine(
                        day, dt.time(rng.randint(6, 18), rng.choice((0, 15, 30, 45))), LOCAL_TZ
                    )
                    epoch = int(local.timestamp())
                    if epoch + 4 * 3600 > self.now:  # not in the future: a day earlier
                        epoch -= 86400
                    arrivals.append((epoch, centre, mode, country, origin, families))
                    planned += families
                arrivals.sort(key=lambda a: a[0])
                for epoch, centre, mode, country, origin, families in arrivals:
                    if self.result.persons >= target:
                        break
                    self._arrival(epoch, centre, mode, country, origin, families, target)
                    if self.batch_persons >= self.chunk_persons:
                        self._flush(writer)

    # -- rows --------------------------------------------------------------------------------------

    def _audit(
        self, stamp: str, action: str, subject_type: str, subject_id: int, details: str, user: int = 0
    ) -> None:
        """An audit event by ``user`` (by default the account the run acts as)."""
        audit_id = self.next_id["audit_events"]
        self.next_id["audit_events"] = audit_id + 1
        self.batch["audit_events"].append(
            f"{audit_id}\t{stamp}\t{user or self.actor}\t{action}\t{subject_type}\t{subject_id}\t{details}\n"
        )

    def _arrival(
        self, epoch: int, centre: str, mode: str, country: str, origin: str, families: int, target: int
    ) -> None:
        rng, cat, result = self.rng, self.cat, self.result
        centre_id = cat.centres[centre]
        arrival_id = self.next_id["arrivals"]
        self.next_id["arrivals"] = arrival_id + 1
        stamp = self.ts(epoch)
        self.batch["arrivals"].append(
            f"{arrival_id}\t{centre_id}\t{stamp}\t{mode}\t{cat.countries[country]}\t{origin}\t"
            f"{transport_ref(rng, mode)}\t{self.actor}\t{stamp}\n"
        )
        self._audit(stamp, "arrival:create", "arrival", arrival_id, f'{{"centre_id": {centre_id}}}')
        result.arrivals += 1
        local = dt.datetime.fromtimestamp(epoch, LOCAL_TZ)
        key = (centre_id, local.year)
        if key not in self.case_prefix:
            number = f"{centre}-{local.year}-"
            self.case_prefix[key] = (number, fold(number))
        on = local.date()
        on_text = on.isoformat()
        pick_size = self.pick_size
        rnd = rng.random
        last_size = FAMILY_SIZES[-1]
        for position in range(families):
            remaining = target - result.persons
            if remaining <= 0:
                break
            size = pick_size()
            if size > remaining:
                size = remaining
            elif remaining - size == 1:  # never leave a single person over for a family of one
                size = size + 1 if size < last_size else size - 1
            # Registered one after the other at the desk, about three minutes each.
            registered = epoch + 600 + position * 180 + int(rnd() * 120)
            self._family(arrival_id, centre_id, key, on, on_text, registered, size)

    def _family(
        self,
        arrival_id: int,
        centre_id: int,
        key: tuple[int, int],
        on: dt.date,
        on_text: str,
        registered: int,
        size: int,
    ) -> None:
        rng, cat, batch, next_id = self.rng, self.cat, self.batch, self.next_id
        rnd = rng.random
        fold_cache = self.fold_cache
        family_id = next_id["family_units"]
        next_id["family_units"] = family_id + 1
        seq = self.counters["case"].get(key, 0) + 1
        self.counters["case"][key] = seq
        prefix, folded_prefix = self.case_prefix[key]
        seq_text = f"{seq:05d}"

        dept = self.pick_weighted_dept() if rnd() < 0.8 else 1 + int(rnd() * 22)
        munis = cat.municipalities[dept]
        muni = munis[int(rnd() * len(munis))]
        language = self.lang_of_dept.get(dept) if rnd() < 0.3 else None
        pueblo = self.maya if language else self.ladino
        n_surnames = len(SURNAMES)
        first = int(rnd() * n_surnames)
        second = int(rnd() * (n_surnames - 1))
        second += second >= first
        father_surname, mother_surname = SURNAMES[first], SURNAMES[second]
        head_sex = "F" if rnd() < 0.6 else "M"
        head_age = 19 + int(rnd() * 32) if rnd() < 0.95 else 60 + int(rnd() * 13)
        child_surname = father_surname if head_sex == "M" or rnd() < 0.5 else mother_surname
        people = [(head_sex, head_age, "HEAD", f"{father_surname} {mother_surname}")]
        if size >= 4 and rnd() < 0.5:
            people.append(
                (
                    "M" if head_sex == "F" else "F",
                    head_age + int(rnd() * 11) - 5,
                    "SPOUSE",
                    f"{SURNAMES[int(rnd() * n_surnames)]} {SURNAMES[int(rnd() * n_surnames)]}",
                )
            )
        while len(people) < size:
            sex = "F" if rnd() < 0.5 else "M"
            oldest = head_age - 17 - int(rnd() * 19)
            oldest = 17 if oldest > 17 else oldest
            age = int(rnd() * (oldest + 1)) if oldest > 0 else 0
            roll = rnd()
            if roll < 0.94:
                relationship = "DAUGHTER" if sex == "F" else "SON"
            else:
                relationship = "STEPCHILD" if roll < 0.97 else "NEPHEW_NIECE"
            people.append((sex, age, relationship, f"{child_surname} {SURNAMES[int(rnd() * n_surnames)]}"))

        on_ordinal = on.toordinal()
        on_month = on.year * 12 + on.month
        on_day = on.day
        members = batch["members"]
        languages = batch["member_languages"]
        rel = self.rel
        documents = cat.documents
        lang_es = self.lang_es
        # Written as text: a value, or N (NULL) when there is none.
        estimated: str | int
        document_type: str | int
        folded = [folded_prefix + seq_text]
        facts = []  # (member id, sex, age in years, age in months or None, estimated age, disability, name)
        member_id = next_id["members"]
        first_member = member_id
        family_part, pueblo_part = f"\t{family_id}\t", f"\t{pueblo}\t"
        dates = self.dates
        keys, key_cache, key_id, on_year = (
            batch["member_keys"],
            self.key_cache,
            next_id["member_keys"],
            on.year,
        )
        for position, (sex, age, relationship, surnames) in enumerate(people):
            names = FEMALE if sex == "F" else MALE
            given = names[int(rnd() * len(names))]
            if rnd() < 0.7:
                ordinal = on_ordinal - age * 365 - int(rnd() * 365)
                birth = dates.get(ordinal)
                if birth is None:
                    day = dt.date.fromordinal(ordinal)
                    birth = dates[ordinal] = (day.isoformat(), day.year * 12 + day.month, day.day)
                birth_date, estimated = birth[0], N
                months = on_month - birth[1] - (on_day < birth[2])
                years = months // 12
            else:
                birth_date, estimated, months, years = N, age, None, age
            interpreter = "1" if language is not None and rnd() < 0.15 else "0"
            cui = valid_cui(rng, dept, muni % 100) if rnd() < (0.6 if age >= 18 else 0.35) else None
            document_type = document_number = N
            if cui is None:
                cui_text = N
                if rnd() < (0.08 if age >= 18 else 0.2):
                    if age >= 18:
                        document_type = documents["PASSPORT"]
                        document_number = str(int(rnd() * 900_000_000) + 100_000_000)
                    else:
                        document_type = documents["BIRTH_CERT"]
                        document_number = f"US-{int(rnd() * 90_000_000) + 10_000_000}"
            else:
                cui_text = cui
            if rnd() < 0.03:
                disability, disability_notes = "1", DISABILITY_NOTES[int(rnd() * 3)]
            else:
                disability, disability_notes = "0", N
            pregnancy = N
            if sex == "F" and 16 <= age <= 40 and rnd() < 0.06:
                pregnancy = "pregnant" if rnd() < 0.5 else "lactating"
            members.append(
                f"{member_id}{family_part}{position}\t{given}\t{surnames}\t{sex}\t{birth_date}\t"
                f"{estimated}\t{rel[relationship]}\t{cui_text}\t0\t{document_type}\t{document_number}"
                f"{pueblo_part}{interpreter}\t{disability}\t{disability_notes}\t{pregnancy}\n"
            )
            languages.append(f"{member_id}\t{lang_es}\n")
            if language:
                languages.append(f"{member_id}\t{language}\n")
            given_part = key_cache.get(given)
            if given_part is None:
                given_part = key_cache[given] = name_part(given)
            surnames_part = key_cache.get(surnames)
            if surnames_part is None:
                surnames_part = key_cache[surnames] = name_part(surnames)
            pairs, words, name = combine(given_part, surnames_part)
            year = birth_date[:4] if estimated is N else on_year - age
            for pair in pairs:
                keys.append(f"{key_id}\t{member_id}\tpair_year\t{pair} {year}\t{name}\n")
                key_id += 1
            if estimated is N:
                for word in words:
                    keys.append(f"{key_id}\t{member_id}\tword_birth\t{word} {birth_date}\t{name}\n")
                    key_id += 1
            folded_given = fold_cache.get(given)
            if folded_given is None:
                folded_given = fold_cache[given] = fold(given)
            folded_surnames = fold_cache.get(surnames)
            if folded_surnames is None:
                folded_surnames = fold_cache[surnames] = fold(surnames)
            folded.append(folded_given)
            folded.append(folded_surnames)
            if cui:
                folded.append(cui)
            elif document_number is not N:
                folded.append(fold(document_number))
            facts.append((member_id, sex, years, months, age, disability == "1", given, surnames))
            member_id += 1
        next_id["members"] = member_id
        next_id["member_keys"] = key_id

        reasons = ["UNEMPLOYMENT"] if rnd() < 0.6 else []
        if rnd() < 0.25:
            reasons.append("FAMILY_REUNIFICATION")
        if rnd() < 0.15:
            reasons.append("VIOLENCE")
        reasons = reasons or ["OTHER"]
        causes = rng.sample(PROTECTION, 1 + (rnd() < 0.5)) if rnd() < 0.08 else ()
        consent = self.pick_consent()
        family_reasons = batch["family_migration_reasons"]
        for reason in reasons:
            family_reasons.append(f"{family_id}\t{cat.reasons[reason]}\n")
        for cause in causes:
            batch["family_protection_causes"].append(f"{family_id}\t{cat.causes[cause]}\n")

        stamp = self.ts(registered)
        self._audit(
            stamp,
            "family:create",
            "family",
            family_id,
            f'{{"arrival_id": {arrival_id}, "members": [{", ".join(map(str, range(first_member, member_id)))}]}}',  # noqa: E501
        )
        sent_at, suggestions, referrals = self._attend(
            family_id, centre_id, registered, facts, muni, reasons, causes, consent != "refused"
        )
        community = f"Aldea {SURNAMES[int(rnd() * n_surnames)]}" if rnd() < 0.7 else N
        phone = f"{'345'[int(rnd() * 3)]}{int(rnd() * 10_000_000):07d}" if rnd() < 0.7 else N
        status, due_on, first_contact, last_contact, destination, version, moved_at, moved_by = self._follow(
            family_id, on, sent_at, muni, bool(causes), referrals, suggestions
        )
        batch["family_units"].append(
            f"{family_id}\t{prefix}{seq_text}\t{centre_id}\t{key[1]}\t{seq}\t{arrival_id}\t"
            f"{status}\t{destination}\t{community}\t{phone}\t{consent}\t"
            f"{STAFF if consent == 'verbal_witness' else N}\t{on_text if consent != 'refused' else N}\t"
            # refresh_case's changes bump the optimistic-lock version; a transfer also stamps the edit.
            f"{' '.join(folded)}\t{version}\t{stamp}\t{self.actor}\t{due_on}\t{first_contact}\t"
            f"{last_contact}\t{moved_at}\t{'1' if causes else '0'}\t{moved_at}\t{moved_by}\n"
        )
        referral_lines = batch["referrals"]
        for referral in referrals:
            referral_lines.append(referral.line())
        self.result.families += 1
        self.result.persons += size
        self.batch_persons += size

    def _attend(
        self,
        family_id: int,
        centre_id: int,
        registered: int,
        facts: list[tuple[Any, ...]],
        muni: int,
        reasons: list[str],
        causes: Sequence[str],
        has_consent: bool,
    ) -> tuple[int | None, list[tuple[str, list[int], str, bool]], list[_Referral]]:
        """Needs and services at the desk, then referrals: when one was first sent (if any), the
        suggestions shown and the referrals made (their rows are written after the follow-up)."""
        rng, cat, batch, next_id = self.rng, self.cat, self.batch, self.next_id
        rnd = rng.random
        at = registered + 120
        stamp = self.ts(at)
        actor = self.actor
        needs = [("FOOD", len(facts), STAFF)]
        small_children = sum(1 for f in facts if f[2] < 7)
        if small_children and rnd() < 0.8:
            needs.append(("CHILD_FOOD", small_children, STAFF))
        if rnd() < 0.7:
            needs.append(("HYGIENE_KIT", 1, STAFF))
        if small_children and centre_id == self.fag and rnd() < 0.15:
            needs.append(("PAEDIATRIC", 1, "Pediatra MSPAS"))
        roll = rnd()
        pending: Sequence[str]
        if roll < 0.34:
            pending = ()
        elif roll < 0.67:
            pending = (IDENTIFIABLE[int(rnd() * 5)],)
        else:
            pending = rng.sample(IDENTIFIABLE, 2)
        family_needs = batch["family_needs"]
        deliveries = batch["service_deliveries"]
        need_lines = self.need_lines
        audit_needs = self.audit_needs
        family_need_id = next_id["family_needs"]
        delivery_id = next_id["service_deliveries"]
        for code, quantity, by in needs:
            need_id, details = need_lines[code]
            deliveries.append(
                f"{delivery_id}\t{family_need_id}\t{cat.need_names[code]}\t{quantity}\t{by}\t{stamp}\t"
                f"{stamp}\t{actor}\n"
            )
            delivery_id += 1
            family_needs.append(
                f"{family_need_id}\t{family_id}\t{N}\t{need_id}\tattended\t{stamp}\t{actor}\n"
            )
            if audit_needs:
                self._audit(
                    stamp,
                    "need:attended",
                    "family",
                    family_id,
                    f'{{"family_need_id": {family_need_id}, {details}',
                )
            family_need_id += 1
        identified: dict[int, int] = {}  # need id -> family need id, while pending
        for code in pending:
            need_id, details = need_lines[code]
            identified[need_id] = family_need_id
            if audit_needs:
                self._audit(
                    stamp,
                    "need:identified",
                    "family",
                    family_id,
                    f'{{"family_need_id": {family_need_id}, {details}',
                )
            family_need_id += 1
        next_id["family_needs"] = family_need_id
        next_id["service_deliveries"] = delivery_id

        sent_at = None
        referrals: list[_Referral] = []
        suggestions = self._suggestions(facts, muni, reasons, causes)
        if suggestions and rnd() < 0.6:
            chosen = [suggestions[0]]
            if len(suggestions) > 1 and rnd() < 0.25:
                chosen.append(suggestions[1 + int(rnd() * (len(suggestions) - 1))])
            at += 120
            for code, member_ids, reason, urgent in chosen:
                institution_id, is_sosep, need_ids = cat.institutions[code]
                if not (is_sosep or has_consent):
                    continue
                referral = self._referral(
                    family_id, centre_id, at, institution_id, code, member_ids, reason, urgent, need_ids
                )
                referrals.append(referral)
                if referral.sent:
                    if sent_at is None:
                        sent_at = at
                    for need_id in need_ids:  # mark_referred: pending needs the referral covers
                        if need_id in identified:
                            family_need_id = identified.pop(need_id)
                            family_needs.append(
                                f"{family_need_id}\t{family_id}\t{N}\t{need_id}\treferred\t{stamp}\t{actor}\n"
                            )
                            if audit_needs:
                                self._audit(
                                    self.ts(at),
                                    "need:referred",
                                    "family",
                                    family_id,
                                    f'{{"family_need_id": {family_need_id}, {self.need_details[need_id]}',
                                )
        for need_id, pending_id in identified.items():
            family_needs.append(f"{pending_id}\t{family_id}\t{N}\t{need_id}\tidentified\t{stamp}\t{actor}\n")
        return sent_at, suggestions, referrals

    # -- follow-up -----------------------------------------------------------------------------------

    def _follow(
        self,
        family_id: int,
        on: dt.date,
        sent_at: int | None,
        muni: int,
        protection: bool,
        referrals: list[_Referral],
        suggestions: list[tuple[str, list[int], str, bool]],
    ) -> tuple[str, ...]:
        """The sede's follow-up of the family up to ``today``, and what it leaves on the case's row:
        status, due date, first and last contact, destination, version, transfer time and account.

        Each event is written with its audit entry; after each, the case's status is what
        :func:`.rules.status` says of the facts so far, a change audited as ``family:status`` (as
        ``refresh_case`` does), and the row's due date is :func:`.rules.due_on`'s at the end.
        """
        rnd = self.rng.random
        deltas = self.day_deltas
        today, now, ts = self.today, self.now, self.ts
        facts_of, status_of = rules.CaseFacts, rules.status
        referred = urgent = False
        for referral in referrals:
            if referral.status not in NO_SLIP:
                referred = True
                urgent = urgent or (referral.urgent and referral.status != "rejected")
        # What refresh_case reads, kept up to date as events happen.
        first: dt.date | None = None
        last: dt.date | None = None
        next_on: dt.date | None = None
        linked = closed = False
        reopened_on: dt.date | None = None
        facts = facts_of(on, referred, urgent, protection)  # after the desk
        # As registered: nothing had happened yet (the same facts when the desk sent nothing).
        status = status_of(facts_of(on, protection_risk=protection) if referred or urgent else facts)
        version = 1
        transferred_at: str = N
        transferred_by: str | int = N

        def refresh(stamp: str, user: int, same_facts: bool = False) -> None:
            """refresh_case after an event: the status the rules give, audited when it changes."""
            nonlocal status, version, facts
            if not same_facts:
                facts = facts_of(
                    on, referred, urgent, protection, first, last, next_on, linked, closed, reopened_on
                )
            after = status_of(facts)
            if after != status:
                self._audit(
                    stamp, "family:status", "family", family_id, self.status_details[status, after], user
                )
                status = after
            version += 1

        def office_hours(day: dt.date) -> int:
            """A moment of office hours on ``day`` (Guatemala time), never after the run's now."""
            midnight = (day.toordinal() - EPOCH_ORDINAL) * 86400 + LOCAL_MIDNIGHT
            epoch = midnight + 28800 + int(rnd() * 32400)
            return epoch if epoch < now else max(midnight, now - 1)

        if sent_at is not None:  # the desk sent a referral: mark_referred, then refresh_case
            refresh(ts(sent_at), self.actor, same_facts=True)
        sede = self.cat.sede_of.get(muni)
        if sede is not None and rnd() >= NEVER_CONTACTED:
            user = self.sede_user[sede]
            story = self.pick_story()
            while story == "ongoing" and (today - on).days > ONGOING_DAYS and rnd() < 0.75:
                story = self.pick_story()
            outcomes = story_outcomes(story, rnd, self.settings.not_located_attempts)
            target = self._transfer_target(sede) if rnd() < TRANSFERRED else None
            if target is not None:
                outcomes.insert(0, "moved")
                while len(outcomes) > MAX_CONTACTS and "located" in outcomes:
                    outcomes.remove("located")
            due = rules.due_on(facts, self.settings)
            assert due is not None
            day = due + deltas[int(rnd() * rnd() * 40)] - deltas[5]
            if rnd() < LATE_CONTACT:
                day += deltas[60 + int(rnd() * 180)]
            if day <= on:
                day = on + deltas[1]
            final = len(outcomes) - 1
            ends_with_last = story in ENDS_WITH_LAST_CONTACT
            next_days = deltas[self.settings.next_contact_days]
            contacts = epoch = 0
            for outcome in outcomes:
                if day > today:
                    break
                if outcome == "not_located":
                    next_on = day + deltas[5 + int(rnd() * 10)] if contacts < final else None
                elif contacts == final and ends_with_last:
                    next_on = None
                else:
                    next_on = day + deltas[7 + int(rnd() * 39)] if rnd() < 0.8 else None
                epoch = office_hours(day)
                stamp = ts(epoch)
                self._followup(family_id, day, outcome, next_on, stamp, user)
                contacts += 1
                if first is None:
                    first = day
                last = day
                refresh(stamp, user)
                if target is not None and outcome == "moved":
                    epoch = min(epoch + 300, now)
                    transferred_at = ts(epoch)
                    muni, sede = self._transfer(family_id, muni, sede, target, transferred_at, user)
                    user = transferred_by = self.sede_user[sede]
                    refresh(transferred_at, user)
                following = (next_on or day + next_days) + deltas[int(rnd() * 12)] - deltas[2]
                day = following if following > day else day + deltas[1]
            if contacts > final and last is not None:  # the story has run its contacts
                close_day: dt.date | None = None
                if story == "linked":
                    link_day = last + deltas[int(rnd() * 6)]
                    if link_day <= today:
                        epoch, stamp, link_day = self._link(
                            family_id,
                            link_day,
                            epoch if link_day == last else 0,
                            referrals,
                            suggestions,
                            user,
                        )
                        linked = True
                        refresh(stamp, user)
                        if rnd() < LINKED_THEN_CLOSED:
                            close_day = link_day + deltas[30 + int(rnd() * 120)]
                elif ends_with_last:
                    close_day = last if story in REOPENABLE else last + deltas[int(rnd() * 30)]
                if close_day is not None and close_day <= today:
                    stamp = ts(min(epoch + 300, now) if close_day == last else office_hours(close_day))
                    note = OTHER_CLOSURE_NOTE if story == "other" else N
                    self._closure(family_id, "close", story, note, stamp, user)
                    closed = True
                    refresh(stamp, user)
                    reopen_day = close_day + deltas[20 + int(rnd() * 100)]
                    if story in REOPENABLE and rnd() < REOPENED and reopen_day <= today:
                        stamp = ts(office_hours(reopen_day))
                        self._closure(family_id, "reopen", N, REOPEN_NOTES[int(rnd() * 2)], stamp, user)
                        closed, reopened_on = False, reopen_day
                        refresh(stamp, user)
                        day = reopen_day + deltas[1 + int(rnd() * 20)]
                        if contacts < MAX_CONTACTS and day <= today and rnd() < 0.6:
                            next_on = day + deltas[7 + int(rnd() * 39)] if rnd() < 0.8 else None
                            stamp = ts(office_hours(day))
                            self._followup(family_id, day, "located", next_on, stamp, user)
                            last = day
                            refresh(stamp, user)
            # A linkage may have answered a referral since: the facts read again, as refresh_case would.
            if urgent != any(
                r.urgent and r.status not in NO_SLIP and r.status != "rejected" for r in referrals
            ):
                urgent = not urgent
                facts = facts_of(
                    on, referred, urgent, protection, first, last, next_on, linked, closed, reopened_on
                )
        due_on = rules.due_on(facts, self.settings)
        return (
            f"{status_of(facts)}",
            due_on.isoformat() if due_on is not None else N,
            first.isoformat() if first is not None else N,
            last.isoformat() if last is not None else N,
            f"{muni}",
            f"{version}",
            transferred_at,
            f"{transferred_by}",
        )

    def _office_hours(self, day: dt.date) -> int:
        """A moment of office hours on ``day`` (Guatemala time), never after the run's now."""
        midnight = (day.toordinal() - EPOCH_ORDINAL) * 86400 + LOCAL_MIDNIGHT
        epoch = midnight + 28800 + int(self.rng.random() * 32400)
        return epoch if epoch < self.now else max(midnight, self.now - 1)

    def _transfer_target(self, sede: int) -> tuple[int, int] | None:
        """A municipality another sede covers, where the family moves (``None`` if none is found)."""
        rnd, cat = self.rng.random, self.cat
        for _ in range(10):
            dept = self.pick_weighted_dept() if rnd() < 0.8 else 1 + int(rnd() * 22)
            munis = cat.municipalities[dept]
            muni = munis[int(rnd() * len(munis))]
            other = cat.sede_of.get(muni)
            if other is not None and other != sede:
                return muni, other
        return None

    def _followup(
        self, family_id: int, day: dt.date, outcome: str, next_on: dt.date | None, stamp: str, user: int
    ) -> None:
        rnd = self.rng.random
        followup_id = self.next_id["followups"]
        self.next_id["followups"] = followup_id + 1
        if outcome == "not_located":
            contact_type = "phone" if rnd() < 0.6 else "home_visit"
            person = notes = N
            action = RETRY_ACTION if next_on is not None else N
        else:
            contact_type = self.pick_contact_type()
            person = CONTACTED_PERSONS[int(rnd() * len(CONTACTED_PERSONS))]
            notes = FOLLOWUP_NOTES[int(rnd() * len(FOLLOWUP_NOTES))] if rnd() < 0.3 else N
            action = NEXT_ACTIONS[int(rnd() * len(NEXT_ACTIONS))] if next_on is not None else N
        self.batch["followups"].append(
            f"{followup_id}\t{family_id}\t{day.isoformat()}\t{contact_type}\t{person}\t{outcome}\t{notes}\t"
            f"{action}\t{next_on.isoformat() if next_on is not None else N}\t{stamp}\t{user}\n"
        )
        self._audit(
            stamp,
            "followup:record",
            "family",
            family_id,
            f'{{"followup_id": {followup_id}, "contact_type": "{contact_type}", "outcome": "{outcome}"}}',
            user,
        )

    def _link(
        self,
        family_id: int,
        day: dt.date,
        after: int,
        referrals: list[_Referral],
        suggestions: list[tuple[str, list[int], str, bool]],
        user: int,
    ) -> tuple[int, str, dt.date]:
        """A linkage on ``day`` (after the moment ``after`` when that is the same day): to the
        institution of a referral the family was sent with (then attended), or to a SOSEP programme
        the desk suggested, or to a service outside the catalogue.

        Returns its moment (epoch and text) and its day, later than ``day`` when the referral it
        follows was answered after it.
        """
        rnd = self.rng.random
        institutions = self.cat.institutions
        epoch = min(after + 300, self.now) if after else self._office_hours(day)
        referral: _Referral | None = None
        open_referrals = [r for r in referrals if r.status in ("sent", "accepted", "attended")]
        if open_referrals and rnd() < 0.5:
            referral = open_referrals[int(rnd() * len(open_referrals))]
            if referral.last_at >= epoch:  # answered after the day chosen: the linkage follows it
                epoch = min(referral.last_at + 300, self.now)
        member: int | str = N
        outside = N
        if referral is not None:
            code: str | None = referral.code
        else:
            programmes = [s for s in suggestions if s[0] in self.programmes]
            if programmes:
                code, member_ids, _reason, _urgent = programmes[int(rnd() * len(programmes))]
                if rnd() < 0.7:
                    member = member_ids[int(rnd() * len(member_ids))]
            elif rnd() < 0.3 or not self.programmes:
                code, outside = None, OUTSIDE_SERVICES[int(rnd() * len(OUTSIDE_SERVICES))]
            else:
                code = self.programmes[-1]
        linkage_id = self.next_id["linkages"]
        self.next_id["linkages"] = linkage_id + 1
        stamp = self.ts(epoch)
        linked_on = dt.date.fromordinal((epoch - LOCAL_MIDNIGHT) // 86400 + EPOCH_ORDINAL)
        institution, institution_json = (institutions[code][0], f'"{code}"') if code else (N, "null")
        self.batch["linkages"].append(
            f"{linkage_id}\t{family_id}\t{member}\t{institution}\t{outside}\t{linked_on.isoformat()}\t{N}\t"
            f"{referral.id if referral is not None else N}\t{stamp}\t{user}\n"
        )
        self._audit(
            stamp,
            "linkage:create",
            "family",
            family_id,
            f'{{"linkage_id": {linkage_id}, "member_id": {"null" if member is N else member}, '
            f'"institution": {institution_json}, '
            f'"referral_id": {referral.id if referral is not None else "null"}}}',
            user,
        )
        if referral is not None and referral.status != "attended":
            if referral.status == "sent":
                self._advance_referral(referral, family_id, "accepted", epoch, LINKED_BY_SEDE, user)
            self._advance_referral(referral, family_id, "attended", epoch, LINKED_BY_SEDE, user)
        return epoch, stamp, linked_on

    def _transfer(
        self, family_id: int, muni: int, sede: int, target: tuple[int, int], stamp: str, user: int
    ) -> tuple[int, int]:
        """The family moved to ``target`` (municipality, sede): the case goes to that sede."""
        transfer_id = self.next_id["case_transfers"]
        self.next_id["case_transfers"] = transfer_id + 1
        to_muni, to_sede = target
        reason = TRANSFER_REASONS[int(self.rng.random() * len(TRANSFER_REASONS))]
        self.batch["case_transfers"].append(
            f"{transfer_id}\t{family_id}\t{sede}\t{to_sede}\t{muni}\t{to_muni}\t{reason}\t{stamp}\t{user}\n"
        )
        self._audit(
            stamp,
            "family:transfer",
            "family",
            family_id,
            f'{{"transfer_id": {transfer_id}, "from_sede": {sede}, "to_sede": {to_sede}}}',
            user,
        )
        return to_muni, to_sede

    def _closure(self, family_id: int, kind: str, reason: str, note: str, stamp: str, user: int) -> None:
        closure_id = self.next_id["case_closures"]
        self.next_id["case_closures"] = closure_id + 1
        self.batch["case_closures"].append(
            f"{closure_id}\t{family_id}\t{kind}\t{reason}\t{note}\t{stamp}\t{user}\n"
        )
        if kind == "close":
            self._audit(
                stamp,
                "family:close",
                "family",
                family_id,
                f'{{"closure_id": {closure_id}, "reason": "{reason}"}}',
                user,
            )
        else:
            self._audit(stamp, "family:reopen", "family", family_id, f'{{"closure_id": {closure_id}}}', user)

    def _suggestions(
        self, facts: list[tuple[Any, ...]], muni: int, reasons: list[str], causes: Sequence[str]
    ) -> list[tuple[str, list[int], str, bool]]:
        """What :func:`~sosep_migrantes.referrals.eligibility.suggest` would list, urgent first."""
        everyone = [f[0] for f in facts]
        shown: list[tuple[str, list[int], str, bool]] = []
        if causes:
            reason = "Causa de riesgo de protección: referencia prioritaria."
            shown += [(code, everyone, reason, True) for code in ("REFUGIO_NINEZ", "OIM", "CRISTOSAL")]
        young = [f for f in facts if (6 <= f[3] < 84 if f[3] is not None else f[4] < 7)]
        if young:
            shown.append(
                (
                    "SOSEP_HOGARES",
                    [f[0] for f in young],
                    f"Niñas y niños de 6 meses a menos de 7 años: {_names(young)}.",
                    False,
                )
            )
        older = [f for f in facts if f[2] >= 60]
        if older:
            shown.append(
                (
                    "SOSEP_ANOS_DORADOS",
                    [f[0] for f in older],
                    f"Personas de 60 años o más: {_names(older)}.",
                    False,
                )
            )
        women = [f for f in facts if f[1] == "F" and f[2] >= 13]
        if women:
            shown.append(
                (
                    "SOSEP_MUJER",
                    [f[0] for f in women],
                    f"Mujeres adultas o adolescentes: {_names(women)}.",
                    False,
                )
            )
        disabled = [f for f in facts if f[5]]
        if disabled:
            shown.append(
                (
                    "SOSEP_SERVICIO_SOCIAL",
                    [f[0] for f in disabled],
                    f"Discapacidad o necesidad de ayuda ortopédica: {_names(disabled)}.",
                    False,
                )
            )
        if muni in PRIORITY_MUNICIPALITIES and PRIORITY_MIGRATION_REASONS.intersection(reasons):
            reason = "Reside en un municipio priorizado y migró por desempleo o reunificación familiar."
            shown.append(("SOSEP_SEDES", everyone, reason, False))
            if not causes:
                shown.append(("OIM", everyone, reason, False))
        institutions = self.cat.institutions
        return [s for s in shown if s[0] in institutions]

    def _referral(
        self,
        family_id: int,
        centre_id: int,
        at: int,
        institution_id: int,
        institution_code: str,
        member_ids: list[int],
        reason: str,
        urgent: bool,
        need_ids: Iterable[int],
    ) -> _Referral:
        """A referral with its life so far: created, usually sent, and later answered.

        Its events and their audit entries are written now; its row when the family's follow-up is
        done, since a linkage may still answer it.
        """
        rng, batch, next_id, actor = self.rng, self.batch, self.next_id, self.actor
        rnd = rng.random
        referral_id = next_id["referrals"]
        next_id["referrals"] = referral_id + 1
        year = dt.datetime.fromtimestamp(at, LOCAL_TZ).year
        key = (centre_id, year)
        seq = self.counters["referral"].get(key, 0) + 1
        self.counters["referral"][key] = seq
        number = f"REF-{self.cat.centre_codes[centre_id]}-{year}-{seq:05d}"
        referral_members = batch["referral_members"]
        for member_id in member_ids:
            referral_members.append(f"{referral_id}\t{member_id}\n")
        for need_id in need_ids:
            batch["referral_needs"].append(f"{referral_id}\t{need_id}\n")
        created = self.ts(at)
        self._audit(
            created,
            "referral:create",
            "family",
            family_id,
            f'{{"referral_id": {referral_id}, "institution": "{institution_code}"}}',
        )
        steps: list[tuple[int, str, str | None]] = [(at, "draft", None)]
        roll = rnd()
        if roll < 0.03:
            pass  # left as a draft
        elif roll < 0.04:
            steps.append((at + 300, "cancelled", "Registrada por error."))
        else:
            steps.append((at, "sent", None))
            answered = at + 86400 + int(rnd() * 14 * 86400)
            roll = rnd()
            if answered <= self.now and roll < 0.93:
                if roll < 0.78:
                    steps.append((answered, "accepted", None))
                    closed = answered + 7 * 86400 + int(rnd() * 83 * 86400)
                    roll = rnd()
                    if closed <= self.now and roll < 0.92:
                        if roll < 0.8:
                            steps.append((closed, "attended", ATTENDED_NOTES[int(rnd() * 3)]))
                        else:
                            steps.append((closed, "not_located", NOT_LOCATED_NOTES[int(rnd() * 2)]))
                elif roll < 0.88:
                    steps.append((answered, "rejected", REJECT_NOTES[int(rnd() * 3)]))
                else:
                    steps.append((answered, "not_located", NOT_LOCATED_NOTES[int(rnd() * 2)]))
        referral = _Referral(
            referral_id,
            institution_id,
            institution_code,
            urgent,
            f"{referral_id}\t{number}\t{family_id}\t{institution_id}\t{reason}\t"
            f"{'urgent' if urgent else 'normal'}\t",
            created,
            actor,
        )
        events = batch["referral_events"]
        event_id = next_id["referral_events"]
        audit_details = f'{{"referral_id": {referral_id}, "institution": "{institution_code}"}}'
        for when, status, note in steps:
            stamp = created if when == at else self.ts(when)
            events.append(
                f"{event_id}\t{referral_id}\t{referral.status}\t{status}\t{note or N}\t{stamp}\t{actor}\n"
            )
            event_id += 1
            if referral.status is not N:
                self._audit(stamp, f"referral:{status}", "family", family_id, audit_details)
                referral.updated = stamp
            if note:
                referral.notes = note
            referral.status = status
            referral.last_at = when
        next_id["referral_events"] = event_id
        referral.sent = len(steps) > 1 and steps[1][1] == "sent"
        self.result.referrals += 1
        return referral

    def _advance_referral(
        self, referral: _Referral, family_id: int, to: str, at: int, note: str, user: int
    ) -> None:
        """A referral's next step recorded by a sede (a linkage marks the referral it follows attended)."""
        event_id = self.next_id["referral_events"]
        self.next_id["referral_events"] = event_id + 1
        stamp = self.ts(at)
        self.batch["referral_events"].append(
            f"{event_id}\t{referral.id}\t{referral.status}\t{to}\t{note}\t{stamp}\t{user}\n"
        )
        self._audit(
            stamp,
            f"referral:{to}",
            "family",
            family_id,
            f'{{"referral_id": {referral.id}, "institution": "{referral.code}"}}',
            user,
        )
        referral.status, referral.notes, referral.updated, referral.last_at = to, note, stamp, at


class _Referral:
    """A referral of the family being generated; its row is written once the follow-up is done."""

    __slots__ = (
        "actor",
        "code",
        "created",
        "head",
        "id",
        "institution_id",
        "last_at",
        "notes",
        "sent",
        "status",
        "updated",
        "urgent",
    )

    def __init__(
        self, id_: int, institution_id: int, code: str, urgent: bool, head: str, created: str, actor: int
    ) -> None:
        self.id, self.institution_id, self.code, self.urgent = id_, institution_id, code, urgent
        #: The row's text up to its status, and what follows it.
        self.head, self.created, self.actor = head, created, actor
        self.status, self.notes, self.updated = N, N, N
        #: When it last changed (epoch), and whether it was sent at the desk.
        self.last_at, self.sent = 0, False

    def line(self) -> str:
        return f"{self.head}{self.status}\t{self.notes}\t{self.created}\t{self.actor}\t{self.updated}\n"


def _names(facts: list[tuple[Any, ...]]) -> str:
    return ", ".join(f"{f[6]} {f[7]}" for f in facts)


# -- writers -----------------------------------------------------------------------------------------


class _Sink(Protocol):
    """Where the generator flushes a batch: a writer, or the pipe to the parent process."""

    def write(self, batch: dict[str, list[str]]) -> None: ...


class _PipeSink:
    """Where the forked generator flushes: each chunk encoded once and sent to the parent."""

    def __init__(self, sender: Connection[Any, Any]) -> None:
        self.sender = sender

    def write(self, batch: dict[str, list[str]]) -> None:
        chunk = [(table, "".join(lines).encode()) for table, lines in batch.items() if lines]
        self.sender.send(("rows", chunk))


class _Writer:
    #: Generate in a forked process (see :meth:`BulkGenerator._run_in_child`).
    in_child_process = False

    def prepare(self) -> None:
        raise NotImplementedError

    def next_ids(self) -> dict[str, int]:
        raise NotImplementedError

    def counters(self) -> dict[str, dict[tuple[int, int], int]]:
        rows = db.session.execute(text("SELECT kind, centre_id, year, last_value FROM number_sequences"))
        counters: dict[str, dict[tuple[int, int], int]] = {"case": {}, "referral": {}}
        for kind, centre_id, year, last_value in rows:
            counters.setdefault(kind, {})[(centre_id, year)] = last_value
        return counters

    def write(self, batch: dict[str, list[str]]) -> None:
        raise NotImplementedError

    def write_encoded(self, chunk: list[tuple[str, bytes]]) -> None:
        """Write what a :class:`_PipeSink` sent (only writers that set ``in_child_process``)."""
        raise NotImplementedError

    def finish(
        self,
        first_ids: dict[str, int],
        next_ids: dict[str, int],
        counters: dict[str, dict[tuple[int, int], int]],
    ) -> None:
        """Leave the counters at the last number given, so the services continue the series."""
        rows = [
            {"kind": kind, "centre_id": centre_id, "year": year, "last_value": value}
            for kind, series in counters.items()
            for (centre_id, year), value in series.items()
        ]
        if rows:
            db.session.execute(
                text(
                    "INSERT INTO number_sequences (kind, centre_id, year, last_value) "
                    "VALUES (:kind, :centre_id, :year, :last_value) "
                    "ON CONFLICT (kind, centre_id, year) DO UPDATE SET last_value = excluded.last_value"
                ),
                rows,
            )


class _SQLiteWriter(_Writer):
    """``executemany`` on the session's connection: SQLite has one writer at a time anyway."""

    def prepare(self) -> None:
        sqlite = db.session.connection().connection.driver_connection
        assert sqlite is not None  # a checked-out connection has its driver's
        self.cursor = sqlite.cursor()

    def next_ids(self) -> dict[str, int]:
        return {
            t: db.session.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {t}")).scalar_one()  # noqa: S608
            for t in ID_TABLES
        }

    def write(self, batch: dict[str, list[str]]) -> None:
        for table, lines in batch.items():
            if lines:
                columns = TABLES[table]
                self.cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our own names
                    f"VALUES ({', '.join('?' * len(columns))})",
                    [tuple(None if v == N else v for v in line[:-1].split("\t")) for line in lines],
                )


class _PostgresWriter(_Writer):
    """``COPY FROM STDIN`` on the session's connection, while a forked process builds the next chunk.

    A big run (50,000 persons or more, and at least half what is there) skips two things PostgreSQL
    does row by row, which would double its time:

    - the secondary indexes (not primary keys or unique constraints) are dropped and built again
      at the end, sorting once instead of a million insertions (the trigram index of the search
      text costs 75 µs a family kept, 30 rebuilt); readers of these tables wait for the run;
    - a superuser skips the foreign-key triggers for the run (``session_replication_role``, local
      to the transaction): every id written was allocated by this run with the tables locked, or
      read from the catalogues at its start. Small runs and the tests keep the triggers on, and
      :func:`~.checks.check_consistency` looks for rows whose parent is missing.

    Everything stays in the caller's transaction: a failure leaves the database as it was.
    """

    #: Runs from this many persons (and at least half what is there) take the big-run path above.
    BIG_RUN = 50_000

    def __init__(self, persons: int) -> None:
        self.persons = persons
        # Where fork is missing (Windows), the rows are built and copied in turn.
        self.in_child_process = "fork" in multiprocessing.get_all_start_methods()

    def prepare(self) -> None:
        connection = db.session.connection()
        # Nobody else inserts into these tables until the run commits: the ids taken from the
        # sequences and the numbers taken from the counters stay ours.
        connection.execute(text(f"LOCK TABLE {', '.join([*TABLES, 'number_sequences'])} IN EXCLUSIVE MODE"))
        existing = connection.execute(text("SELECT count(*) FROM members")).scalar_one()
        big = self.persons >= self.BIG_RUN and self.persons >= existing // 2
        self.skip_fk_triggers = (
            big
            and connection.execute(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar_one()
        )
        if self.skip_fk_triggers:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        self.indexes: list[tuple[str, str]] = []
        if big:
            # Secondary indexes (not primary keys or unique constraints, which stay and are checked
            # row by row) are built again at the end: sorting once beats a million insertions.
            self.indexes = [
                (name, definition)
                for name, definition in connection.execute(
                    text(
                        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                        "JOIN pg_class t ON t.oid = i.indrelid "
                        "WHERE t.relname = ANY(:tables) AND t.relnamespace = current_schema()::regnamespace "
                        "AND NOT i.indisunique AND NOT i.indisprimary ORDER BY 1"
                    ),
                    {"tables": list(TABLES)},
                )
            ]
            for name, _ in self.indexes:
                connection.execute(text(f"DROP INDEX {name}"))
        pg = connection.connection.driver_connection
        assert pg is not None  # a checked-out connection has its driver's
        self.pg = pg

    def next_ids(self) -> dict[str, int]:
        ids = {}
        for table in ID_TABLES:
            ids[table] = db.session.execute(
                text(
                    f"SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), "  # noqa: S608
                    f"(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                    f"FROM {table}_id_seq)) + 1"
                )
            ).scalar_one()
        return ids

    def write(self, batch: dict[str, list[str]]) -> None:
        self.write_encoded([(table, "".join(lines).encode()) for table, lines in batch.items() if lines])

    def write_encoded(self, chunk: list[tuple[str, bytes]]) -> None:
        with self.pg.cursor() as cursor:
            for table, data in chunk:
                with cursor.copy(f"COPY {table} ({', '.join(TABLES[table])}) FROM STDIN") as copy:
                    copy.write(data)

    def finish(
        self,
        first_ids: dict[str, int],
        next_ids: dict[str, int],
        counters: dict[str, dict[tuple[int, int], int]],
    ) -> None:
        for table in ID_TABLES:
            if next_ids[table] != first_ids[table]:
                db.session.execute(text(f"SELECT setval('{table}_id_seq', {int(next_ids[table]) - 1})"))
        if self.skip_fk_triggers:
            db.session.execute(text("SET LOCAL session_replication_role = origin"))
        if self.indexes:
            db.session.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
            for _, definition in self.indexes:
                db.session.execute(text(definition))
        super().finish(first_ids, next_ids, counters)
