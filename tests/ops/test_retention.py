"""``flask retention anonymise``: cases closed longer ago than the retention period lose their personal data.

Each case below is built through the services, as staff would record it, with a word of its own (``tag``) in
every name and free text, a CUI, a passport number and a phone. Old cases arrived in March 2019 and were
closed that year (the closures' dates are moved into the past after the services wrote them); the others
are open, closed last year, or closed long ago and reopened since. The command must leave every figure
and table of the protocol report as it was, empty every text column of the old cases' rows, and leave
every other case exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest
from sqlalchemy import Enum, String, Table, func, select, update

from sosep_migrantes.cases.models import CaseStatus, FamilyUnit, Member
from sosep_migrantes.catalogs.models import Municipality, Need
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.config import load_config
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.core.timeutil import LOCAL_TZ, today_local
from sosep_migrantes.demo.generator import DemoGenerator, valid_cui
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import services as followup
from sosep_migrantes.followup.models import CaseClosure
from sosep_migrantes.needs.models import FamilyNeed, NeedStatus
from sosep_migrantes.needs.services import attend_need, record_needs
from sosep_migrantes.ops.retention import retention_cutoff
from sosep_migrantes.referrals.models import Referral
from sosep_migrantes.referrals.services import answer_referral
from sosep_migrantes.reports.queries import ReportFilters
from sosep_migrantes.reports.tables import Report, build_report
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

CUILCO, NEBAJ = 1304, 1413
NOW = dt.datetime.now(dt.UTC)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


def years_ago(years: int, days: int = 0) -> dt.datetime:
    return retention_cutoff(NOW, years) - dt.timedelta(days=days)


# -- the cases ----------------------------------------------------------------------------------------


def build_case(users: dict[str, Any], tag: str, arrived: dt.datetime, seed: int) -> FamilyUnit:
    """A case with everything the services record: members with documents, needs and services,
    referrals answered by a partner, a follow-up, a linkage, a transfer (Cuilco to Nebaj); not closed."""
    desk, huehue = users["desk"], users["huehue"]
    rng = random.Random(seed)
    day = arrived.date()
    family = make_family(
        desk,
        make_arrival(desk, when=arrived),
        municipality=CUILCO,
        members=[
            member(
                "Aurelia",
                f"{tag} Tzoc",
                age=None,
                birth_date="1985-07-01",
                cui=valid_cui(rng, 13, 4),
                pueblo="MAYA",
                languages=["MAM", "ES"],
                needs_interpreter=True,
                has_disability=True,
                disability_notes=f"Movilidad reducida {tag}",
                health_notes=f"Hipertensión {tag}",
                pregnancy="lactating",
            ),
            # Arrived at 23:30 on 10 March in Guatemala (already the 11th in UTC): 5 years old, not 6.
            member(
                "Tomás",
                f"{tag} Tzoc",
                sex="M",
                relationship="SON",
                age=None,
                birth_date="2013-03-11",
                document_type="PASSPORT",
                document_number=f"P{seed:08d}",
            ),
            member("Luz", f"{tag} Tzoc", relationship="DAUGHTER", age=None, birth_date="2013-03-10"),
            member("Juana", f"{tag} Ixcoy", relationship="GRANDPARENT", age=67),
        ],
        community=f"Aldea {tag}",
        address=f"Casa 4, cantón {tag}",
        phone=f"5{seed:07d}",
        consent_type="verbal_witness",
        consent_witness=f"Testigo {tag}",
        consent_on=day.isoformat(),
        notes=f"Observaciones {tag}",
        protection_causes=["THREATS"],
        migration_reasons=["VIOLENCE"],
    )
    son = family.members[1]
    record_needs(
        family,
        [
            {
                "need": by_code(Need, "HYGIENE_KIT"),
                "action": NeedStatus.ATTENDED,
                "notes": f"Talla {tag}",
                "description": f"Kit {tag}",
                "delivered_by": f"Promotora {tag}",
                "quantity": 2,
            },
            {
                "need": by_code(Need, "CHILD_FOOD"),
                "action": NeedStatus.IDENTIFIED,
                "member_id": son.id,
                "notes": f"Alergia {tag}",
            },
        ],
        desk,
    )
    pending = db.session.scalar(
        select(FamilyNeed).where(
            FamilyNeed.family_id == family.id, FamilyNeed.status == NeedStatus.IDENTIFIED
        )
    )
    attend_need(pending, {"description": f"Papilla {tag}", "delivered_by": f"Nutricionista {tag}"}, desk)
    db.session.commit()
    oim = refer(family, desk, "OIM", send=True, reason=f"Amenazas en {tag}")
    answer_referral(oim, "accepted", f"Recibida por {tag}", users["oim"])
    answer_referral(oim, "attended", f"Atendida en {tag}", users["oim"])
    refer(family, desk, "SOSEP_SEDES", send=True, reason=f"Seguimiento en {tag}")
    followup.record_followup(
        family,
        {
            "contacted_on": day + dt.timedelta(days=20),
            "contact_type": "home_visit",
            "outcome": "located",
            "contacted_person": f"Doña {tag}",
            "notes": f"Visita {tag}",
            "next_action": f"Llevar a {tag}",
            "next_action_on": day + dt.timedelta(days=40),
        },
        huehue,
    )
    followup.link(
        family,
        {
            "linked_on": day + dt.timedelta(days=30),
            "institution": None,
            "outside_service": f"Escuela de {tag}",
            "note": f"Inscrita {tag}",
        },
        huehue,
    )
    followup.transfer(
        family,
        {
            "municipality": db.session.get(Municipality, NEBAJ),
            "reason": f"Se mudó con {tag}",
            "community": f"Cantón {tag}",
            "address": f"Lote 9 {tag}",
        },
        huehue,
    )
    db.session.commit()
    return family


def close(family: FamilyUnit, user, tag: str, when: dt.datetime) -> None:
    followup.close(family, {"reason": "linked", "note": f"Cierre {tag}"}, user)
    _date_latest_closure(family, when)


def reopen(family: FamilyUnit, user, tag: str, when: dt.datetime) -> None:
    followup.reopen(family, {"note": f"Reabierto por {tag}"}, user)
    _date_latest_closure(family, when)


def _date_latest_closure(family: FamilyUnit, when: dt.datetime) -> None:
    """The services date a closure now: move it to ``when``, as if it had been recorded then."""
    db.session.flush()
    latest = db.session.scalar(
        select(CaseClosure.id).where(CaseClosure.family_id == family.id).order_by(CaseClosure.id.desc())
    )
    db.session.execute(update(CaseClosure).where(CaseClosure.id == latest).values(created_at=when))
    db.session.commit()


@pytest.fixture
def users(ctx):
    return {
        "desk": make_user("reception", centre="FAG"),
        "huehue": make_user("sede", sede="HUEHUETENANGO"),
        "quiche": make_user("sede", sede="QUICHE"),
        "oim": make_partner("OIM"),
        "coordinator": make_user("coordinator"),
    }


@pytest.fixture
def cases(users):
    """Old closed cases (to anonymise) and the others (to leave alone), by their tag."""
    quiche = users["quiche"]
    built = {}
    for seed, tag in enumerate(["Quiej", "Cuxil", "Ajanel", "Tzunun", "Batz", "Sicajan"], start=1):
        built[tag] = build_case(users, tag, local(2019, 3, 10, 23, 30), seed)
    # Old: closed in 2019; closed, reopened and closed again in 2019; closed 5 years and a day ago.
    close(built["Quiej"], quiche, "Quiej", local(2019, 6, 1, 10, 0))
    close(built["Cuxil"], quiche, "Cuxil", local(2019, 5, 1, 10, 0))
    reopen(built["Cuxil"], quiche, "Cuxil", local(2019, 7, 1, 10, 0))
    close(built["Cuxil"], quiche, "Cuxil", local(2019, 9, 1, 10, 0))
    close(built["Ajanel"], quiche, "Ajanel", years_ago(5, days=1))
    # Kept: closed 5 years ago less a day; closed in 2019 and reopened last year; never closed.
    close(built["Tzunun"], quiche, "Tzunun", years_ago(5, days=-1))
    close(built["Batz"], quiche, "Batz", local(2019, 6, 1, 10, 0))
    reopen(built["Batz"], quiche, "Batz", years_ago(1))
    return {
        "old": {tag: built[tag].id for tag in ("Quiej", "Cuxil", "Ajanel")},
        "kept": {tag: built[tag].id for tag in ("Tzunun", "Batz", "Sicajan")},
    }


# -- reading the database -----------------------------------------------------------------------------

#: Text columns that are not written by people: enum codes and one-time form tokens.
NOT_FREE_TEXT = {"submission_token"}


def _text_columns(table: Table) -> list[str]:
    return [
        c.name
        for c in table.columns
        if isinstance(c.type, String) and not isinstance(c.type, Enum) and c.name not in NOT_FREE_TEXT
    ]


def _rows_of(table: Table, family_id: int) -> Any:
    """The condition selecting a family's rows in ``table``, or None when it holds none."""
    c = table.c
    needs = select(db.metadata.tables["family_needs"].c.id).where(
        db.metadata.tables["family_needs"].c.family_id == family_id
    )
    referrals = select(Referral.id).where(Referral.family_id == family_id)
    members = select(Member.id).where(Member.family_id == family_id)
    if table.name == "family_units":
        return c.id == family_id
    if "family_id" in c:
        return c.family_id == family_id
    if "family_need_id" in c:
        return c.family_need_id.in_(needs)
    if "referral_id" in c:
        return c.referral_id.in_(referrals)
    if "member_id" in c:
        return c.member_id.in_(members)
    return None


def family_rows(family_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of the family in every table that holds its data (arrivals are shared: not theirs)."""
    found = {}
    for table in db.metadata.sorted_tables:
        condition = _rows_of(table, family_id)
        if condition is None:
            continue
        rows = db.session.execute(select(table).where(condition).order_by(*table.primary_key.columns))
        found[table.name] = [dict(row._mapping) for row in rows]
    return found


def family_texts(family_id: int) -> dict[str, list[Any]]:
    """``{"table.column": [values]}`` of every free-text column of the family's rows."""
    texts: dict[str, list[Any]] = {}
    for name, rows in family_rows(family_id).items():
        for column in _text_columns(db.metadata.tables[name]):
            texts[f"{name}.{column}"] = [row[column] for row in rows]
    return texts


def leftover_texts(family_id: int) -> dict[str, Any]:
    """The family's text values that are neither empty nor its case and referral numbers."""
    case_number = db.session.scalar(select(FamilyUnit.case_number).where(FamilyUnit.id == family_id))
    numbers = set(db.session.scalars(select(Referral.number).where(Referral.family_id == family_id)))
    references = {case_number, case_number.lower(), *numbers}
    return {
        column: value
        for column, values in family_texts(family_id).items()
        for value in values
        if value not in (None, "") and value not in references
    }


def _without(rows: list[dict[str, Any]], columns: set[str]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def whole_database() -> str:
    """Every row of every table, as text: what a search for a name or a CUI would read."""
    return "\n".join(
        repr([tuple(row) for row in db.session.execute(select(t).order_by(*t.primary_key.columns))])
        for t in db.metadata.sorted_tables
    )


def audit_events(family_id: int, action: str = "family:anonymise") -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == family_id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


def reports(users) -> list[Report]:
    """The national report over all the data, one sede's, and one filtered by centre and route."""
    period = ReportFilters(start=dt.date(2019, 1, 1), end=today_local())
    centre = db.session.scalar(select(FamilyUnit.centre_id).limit(1))
    filtered = ReportFilters(period.start, period.end, centre_id=centre, mode="air")
    return [
        build_report(users["coordinator"], period, "Nacional"),
        build_report(users["quiche"], period, "Quiché"),
        build_report(users["coordinator"], filtered),
    ]


def run(app, *args: str):
    db.session.commit()  # nothing of ours open while the command writes (SQLite has one writer)
    result = app.test_cli_runner().invoke(args=["retention", "anonymise", *args])
    db.session.expire_all()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


# -- the command --------------------------------------------------------------------------------------


def test_old_closed_cases_lose_their_personal_data_and_the_report_stays_the_same(app, users, cases):
    old, kept = cases["old"], cases["kept"]
    before_reports = reports(users)
    before_rows = {fid: family_rows(fid) for fid in [*old.values(), *kept.values()]}
    for tag, fid in old.items():
        # Not vacuous: every table of the case holds the tag in some text column before.
        texts = family_texts(fid)
        tables = {
            key.partition(".")[0] for key, values in texts.items() if any(tag in str(v) for v in values)
        }
        assert tables >= {
            "family_units",
            "members",
            "family_needs",
            "service_deliveries",
            "referrals",
            "referral_events",
            "followups",
            "linkages",
            "case_transfers",
            "case_closures",
        }, tag

    result = run(app, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "Anonimizadas 3 unidades familiares (12 personas)" in result.output

    assert reports(users) == before_reports

    database = whole_database()
    for tag, fid in old.items():
        before = before_rows[fid]
        secrets = [tag, *(m["cui"] for m in before["members"] if m["cui"])]
        secrets += [m["document_number"] for m in before["members"] if m["document_number"]]
        secrets.append(before["family_units"][0]["phone"])
        assert not [s for s in secrets if s in database], tag
        assert leftover_texts(fid) == {}, tag
        family = db.session.get(FamilyUnit, fid)
        assert family.search_text == family.case_number.lower()
        assert family.anonymised_at is not None and family.version == before["family_units"][0]["version"] + 1
        assert family.status is CaseStatus.CLOSED
        members = db.session.scalars(select(Member).where(Member.family_id == fid).order_by(Member.position))
        # The age at arrival (Guatemala's day), where the report reads it when there is no date of birth.
        assert [(m.birth_date, m.estimated_age) for m in members] == [
            (None, 33),
            (None, 5),
            (None, 6),
            (None, 67),
        ]
        # Everything else is as it was: what the reports count, and how the case went.
        after = family_rows(fid)
        changed = {"given_names", "surnames", "birth_date", "estimated_age", "cui", "cui_check_confirmed"}
        changed |= {"document_type_id", "anonymised_at", "version", "search_text"}
        # The phonetic keys of the returnee search are made of the names and dates of birth: they go too.
        assert before["member_keys"] and after["member_keys"] == [], tag
        for name, rows in before.items():
            if name == "member_keys":
                continue
            free = set(_text_columns(db.metadata.tables[name])) | changed
            assert _without(after[name], free) == _without(rows, free), (tag, name)

    for tag, fid in kept.items():
        assert family_rows(fid) == before_rows[fid], tag
        assert tag in database
        assert audit_events(fid) == []


def test_one_audit_entry_per_family_without_names(app, users, cases):
    assert run(app).exit_code == 0
    for tag, fid in cases["old"].items():
        [event] = audit_events(fid)
        assert event.subject_type == "family" and event.user_id is None
        assert event.details == {"persons": 4, "retention_years": 5}
        assert tag not in json.dumps(event.details)


def test_a_dry_run_counts_and_changes_nothing(app, users, cases):
    before = whole_database()
    result = run(app, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Simulación, sin cambios: se anonimizarían 3 unidades familiares (12 personas)" in result.output
    assert whole_database() == before


def test_a_second_run_finds_nothing_to_do(app, users, cases):
    assert run(app, "--batch-size", "1").exit_code == 0
    before = whole_database()
    again = run(app)
    assert again.exit_code == 0, again.output
    assert "Anonimizadas 0 unidades familiares (0 personas)" in again.output
    assert whole_database() == before
    assert all(len(audit_events(fid)) == 1 for fid in cases["old"].values())


def test_the_years_come_from_the_option_or_retention_years(app, users, cases, monkeypatch):
    # Closed 5 years ago less a day: kept at 5 years, due at 4.
    recent = cases["kept"]["Tzunun"]
    assert "3 unidades familiares" in run(app, "--dry-run").output
    monkeypatch.setitem(app.config, "RETENTION_YEARS", 4)
    assert "4 unidades familiares" in run(app, "--dry-run").output
    assert "3 unidades familiares" in run(app, "--dry-run", "--years", "5").output
    assert db.session.get(FamilyUnit, recent).anonymised_at is None
    result = run(app)
    assert "Anonimizadas 4 unidades familiares (16 personas)" in result.output
    assert "hace más de 4 años" in result.output
    assert db.session.get(FamilyUnit, recent).anonymised_at is not None
    assert run(app, "--years", "0").exit_code != 0


def test_retention_years_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.delenv("RETENTION_YEARS", raising=False)
    assert load_config(tmp_path)["RETENTION_YEARS"] == 5
    monkeypatch.setenv("RETENTION_YEARS", "7")
    assert load_config(tmp_path)["RETENTION_YEARS"] == 7


def test_the_cutoff_is_whole_calendar_years():
    assert retention_cutoff(dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC), 5) == dt.datetime(
        2021, 11, 24, 3, 0, tzinfo=dt.UTC
    )
    assert retention_cutoff(dt.datetime(2028, 2, 29, tzinfo=dt.UTC), 5) == dt.datetime(
        2023, 2, 28, tzinfo=dt.UTC
    )


def test_the_case_page_says_the_case_was_anonymised(app, users, cases, client):
    assert run(app).exit_code == 0
    login(client, users["desk"])
    fid = cases["old"]["Quiej"]
    page = client.get(f"/cases/{fid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Caso anonimizado el" in html
    assert "Quiej" not in html
    assert f"/cases/{fid}/edit" not in html
    assert "Datos personales anonimizados" in html  # the history says it, by "Sistema"
    kept = client.get(f"/cases/{cases['kept']['Tzunun']}").get_data(as_text=True)
    assert "Caso anonimizado" not in kept and "Tzunun" in kept


def test_anonymised_demo_data_gives_the_same_reports(app, ctx):
    """Random families (the demo generator's, through the services) all closed long ago."""
    until = today_local() - dt.timedelta(days=30)
    DemoGenerator(11, until, days=120).run(60, make_user("admin"))
    db.session.commit()
    db.session.execute(update(CaseClosure).values(created_at=years_ago(10)))
    coordinator = make_user("coordinator")
    period = ReportFilters(start=until - dt.timedelta(days=150), end=today_local())
    before = build_report(coordinator, period)
    closed = db.session.scalar(select(func.count()).where(FamilyUnit.status == CaseStatus.CLOSED))
    assert closed >= 5

    result = run(app, "--batch-size", "7")
    assert result.exit_code == 0, result.output
    assert f"Anonimizadas {closed} unidades familiares" in result.output
    assert build_report(coordinator, period) == before
    anonymised = db.session.scalars(select(FamilyUnit).where(FamilyUnit.anonymised_at.is_not(None))).all()
    assert len(anonymised) == closed
    assert [leftover_texts(family.id) for family in anonymised] == [{}] * closed


def test_an_anonymised_case_can_be_neither_edited_nor_reopened(app, users, cases, client):
    from sosep_migrantes.core.errors import ServiceError
    from sosep_migrantes.followup import services as followup_services

    assert run(app).exit_code == 0
    fid = cases["old"]["Quiej"]
    login(client, users["desk"])
    for method in ("GET", "POST"):
        response = client.open(f"/cases/{fid}/edit", method=method, data={"full_name": "x"})
        assert (response.status_code, response.location) == (302, f"/cases/{fid}"), method
    db.session.expire_all()
    family = db.session.get(FamilyUnit, fid)
    with pytest.raises(ServiceError) as refused:
        followup_services.reopen(family, {"note": "Regresó"}, users["quiche"])
    assert "caso nuevo" in refused.value.errors["note"]
