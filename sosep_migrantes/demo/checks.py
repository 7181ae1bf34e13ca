# ruff: noqa: S608 - every query here is our own text; nothing typed by a user reaches it
"""Consistency checks on the case data, whoever wrote it: the desk (through the services) or the bulk
generator. ``flask demo-data --check`` runs them.

Each check is one SQL query (``GROUP BY`` / ``NOT EXISTS``) counting what breaks a rule the services
keep, so they run in seconds on a million persons. Three rules need Python (folding text, the CUI check
digit, the follow-up's due date) and are checked on a random sample of families: the due date with
``followup.services.case_facts`` and ``followup.rules``, the very functions ``refresh_case`` uses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, DateTime, bindparam, select, text

from ..cases.models import CaseStatus, FamilyUnit
from ..cases.phonetic import member_keys
from ..cases.services import search_text_of
from ..catalogs.services import municipalities_per_department
from ..core.cui import check_cui
from ..core.timeutil import to_local
from ..extensions import db
from ..followup import rules
from ..followup.services import case_facts, settings
from ..referrals.models import WITHOUT_SLIP
from ..referrals.services import TRANSITIONS

#: Families whose search text and CUIs are checked in Python.
SAMPLE = 2_000
#: Families whose status and follow-up dates are recomputed in Python (five queries each).
FOLLOWUP_SAMPLE = 1_000


def _dialect_sql() -> dict[str, str]:
    if db.session.get_bind().dialect.name == "postgresql":
        return {
            "local_year": "CAST(EXTRACT(YEAR FROM a.arrived_at AT TIME ZONE 'America/Guatemala') AS INTEGER)",
            "local_date": "CAST(a.arrived_at AT TIME ZONE 'America/Guatemala' AS DATE)",
            "seq5": "lpad(CAST(f.case_seq AS TEXT), 5, '0')",
            "details_to": "details->>'to'",
        }
    # SQLite keeps UTC text; Guatemala has been UTC-6 all year since 2006.
    return {
        "local_year": "CAST(strftime('%Y', a.arrived_at, '-6 hours') AS INTEGER)",
        "local_date": "date(a.arrived_at, '-6 hours')",
        "seq5": "substr('0000' || CAST(f.case_seq AS TEXT), -5, 5)",
        "details_to": "json_extract(details, '$.to')",
    }


def _queries() -> list[tuple[str, str]]:
    """(what is wrong, SQL counting the offending rows)."""
    sql = _dialect_sql()
    transitions = ", ".join(f"'{a}>{b}'" for a, targets in TRANSITIONS.items() for b in targets)
    case_number = (
        f"c.code || '-' || CAST(f.case_year AS TEXT) || '-' || "
        f"CASE WHEN f.case_seq >= 100000 THEN CAST(f.case_seq AS TEXT) ELSE {sql['seq5']} END"
    )
    # REF-<centre>-<year>-<seq>: the year and the sequence read back from the number.
    ref_prefix = "'REF-' || c.code || '-'"
    ref_year = f"CAST(substr(r.number, length({ref_prefix}) + 1, 4) AS INTEGER)"
    ref_seq = f"CAST(substr(r.number, length({ref_prefix}) + 6) AS INTEGER)"
    referral_numbers = (
        f"SELECT f.centre_id, {ref_year} AS year, {ref_seq} AS seq, r.number, {ref_prefix} AS prefix "
        "FROM referrals r JOIN family_units f ON f.id = r.family_id JOIN centres c ON c.id = f.centre_id"
    )
    return [
        (
            "unidades familiares sin integrantes",
            "SELECT count(*) FROM family_units f WHERE NOT EXISTS (SELECT 1 FROM members m WHERE "
            "m.family_id = f.id)",
        ),
        (
            "unidades familiares sin exactamente un(a) jefe(a) de familia",
            "SELECT count(*) FROM (SELECT m.family_id FROM members m GROUP BY m.family_id "
            "HAVING SUM(CASE WHEN m.relationship_id = (SELECT id FROM family_relationships WHERE code = "
            "'HEAD') "
            "THEN 1 ELSE 0 END) <> 1) x",
        ),
        (
            "números de caso que no corresponden a centro, año y correlativo",
            f"SELECT count(*) FROM family_units f JOIN centres c ON c.id = f.centre_id "
            f"WHERE f.case_number <> {case_number}",
        ),
        (
            "años de caso distintos del año (hora de Guatemala) de la llegada",
            f"SELECT count(*) FROM family_units f JOIN arrivals a ON a.id = f.arrival_id "
            f"WHERE f.case_year <> {sql['local_year']} OR f.centre_id <> a.centre_id",
        ),
        (
            "series de números de caso con saltos o repetidos (centro y año)",
            "SELECT count(*) FROM (SELECT centre_id, case_year FROM family_units GROUP BY centre_id, "
            "case_year "
            "HAVING count(*) <> max(case_seq) OR min(case_seq) <> 1 "
            "OR count(DISTINCT case_seq) <> count(*)) x",
        ),
        (
            "contadores de casos (number_sequences) distintos del último número dado",
            "SELECT count(*) FROM (SELECT centre_id, case_year, max(case_seq) AS last FROM family_units "
            "GROUP BY centre_id, case_year) s LEFT JOIN number_sequences n ON n.kind = 'case' "
            "AND n.centre_id = s.centre_id AND n.year = s.case_year "
            "WHERE n.last_value IS NULL OR n.last_value <> s.last",
        ),
        (
            "contadores de casos sin los casos que dicen haber numerado",
            "SELECT count(*) FROM number_sequences n WHERE n.kind = 'case' AND n.last_value > 0 "
            "AND NOT EXISTS (SELECT 1 FROM family_units f WHERE f.centre_id = n.centre_id "
            "AND f.case_year = n.year AND f.case_seq = n.last_value)",
        ),
        (
            "números de derivación que no corresponden al centro de la familia",
            f"SELECT count(*) FROM ({referral_numbers}) x WHERE substr(number, 1, length(prefix)) <> prefix",
        ),
        (
            "series de números de derivación con saltos o repetidos (centro y año)",
            f"SELECT count(*) FROM (SELECT centre_id, year FROM ({referral_numbers}) x GROUP BY centre_id, "
            "year "
            "HAVING count(*) <> max(seq) OR min(seq) <> 1 OR count(DISTINCT seq) <> count(*)) y",
        ),
        (
            "contadores de derivaciones distintos del último número dado",
            f"SELECT count(*) FROM (SELECT centre_id, year, max(seq) AS last FROM ({referral_numbers}) x "
            "GROUP BY centre_id, year) s LEFT JOIN number_sequences n ON n.kind = 'referral' "
            "AND n.centre_id = s.centre_id AND n.year = s.year "
            "WHERE n.last_value IS NULL OR n.last_value <> s.last",
        ),
        (
            "derivaciones sin historial de estados",
            "SELECT count(*) FROM referrals r WHERE NOT EXISTS "
            "(SELECT 1 FROM referral_events e WHERE e.referral_id = r.id)",
        ),
        (
            "derivaciones cuyo último evento no es su estado actual",
            "SELECT count(*) FROM referrals r JOIN (SELECT referral_id, to_status, "
            "ROW_NUMBER() OVER (PARTITION BY referral_id ORDER BY id DESC) AS n FROM referral_events) e "
            "ON e.referral_id = r.id AND e.n = 1 WHERE e.to_status <> r.status",
        ),
        (
            "eventos de derivación fuera de orden o con un cambio de estado no permitido",
            "SELECT count(*) FROM (SELECT from_status, to_status, created_at, "
            "LAG(to_status) OVER (PARTITION BY referral_id ORDER BY id) AS previous, "
            "LAG(created_at) OVER (PARTITION BY referral_id ORDER BY id) AS previous_at, "
            "ROW_NUMBER() OVER (PARTITION BY referral_id ORDER BY id) AS n FROM referral_events) e "
            "WHERE (n = 1 AND (from_status IS NOT NULL OR to_status <> 'draft')) "
            "OR (n > 1 AND (from_status IS NULL OR from_status <> previous OR created_at < previous_at "
            f"OR from_status || '>' || to_status NOT IN ({transitions})))",
        ),
        *_followup_queries(sql),
        (
            "integrantes derivados que no son de la familia de la derivación",
            "SELECT count(*) FROM referral_members rm JOIN referrals r ON r.id = rm.referral_id "
            "LEFT JOIN members m ON m.id = rm.member_id WHERE m.id IS NULL OR m.family_id <> r.family_id",
        ),
        (
            "necesidades atendidas sin servicio entregado",
            "SELECT count(*) FROM family_needs n WHERE n.status = 'attended' AND NOT EXISTS "
            "(SELECT 1 FROM service_deliveries s WHERE s.family_need_id = n.id)",
        ),
        (
            "unidades familiares sin el evento de auditoría family:create",
            "SELECT count(*) FROM family_units f WHERE NOT EXISTS (SELECT 1 FROM audit_events a "
            "WHERE a.subject_type = 'family' AND a.subject_id = f.id AND a.action = 'family:create')",
        ),
        (
            "integrantes sin fecha de nacimiento ni edad estimada, o nacidos después de llegar",
            f"SELECT count(*) FROM members m JOIN family_units f ON f.id = m.family_id "
            f"JOIN arrivals a ON a.id = f.arrival_id "
            f"WHERE (m.birth_date IS NULL AND m.estimated_age IS NULL) OR m.birth_date > {sql['local_date']}",
        ),
        (
            "filas cuya unidad familiar, integrante, llegada o derivación no existe",
            "SELECT (SELECT count(*) FROM members m WHERE NOT EXISTS "
            "(SELECT 1 FROM family_units f WHERE f.id = m.family_id)) "
            "+ (SELECT count(*) FROM family_units f WHERE NOT EXISTS (SELECT 1 FROM arrivals a WHERE a.id "
            "= f.arrival_id)) "
            "+ (SELECT count(*) FROM member_languages l WHERE NOT EXISTS (SELECT 1 FROM members m WHERE "
            "m.id = l.member_id)) "
            "+ (SELECT count(*) FROM family_needs n WHERE NOT EXISTS (SELECT 1 FROM family_units f WHERE "
            "f.id = n.family_id)) "
            "+ (SELECT count(*) FROM service_deliveries s WHERE NOT EXISTS "
            "(SELECT 1 FROM family_needs n WHERE n.id = s.family_need_id)) "
            "+ (SELECT count(*) FROM referrals r WHERE NOT EXISTS (SELECT 1 FROM family_units f WHERE f.id "
            "= r.family_id)) "
            "+ (SELECT count(*) FROM referral_events e WHERE NOT EXISTS (SELECT 1 FROM referrals r WHERE "
            "r.id = e.referral_id))",
        ),
    ]


def _followup_queries(sql: dict[str, str]) -> list[tuple[str, str]]:
    """The follow-up's rules: the status and dates ``refresh_case`` keeps, and the events they come from."""
    s = CaseStatus
    without_slip = ", ".join(f"'{status}'" for status in sorted(WITHOUT_SLIP))
    # No contact is owed once linked or closed, nor before the desk confirms a pre-registered family.
    nothing_due = ", ".join(f"'{status}'" for status in (s.LINKED, s.CLOSED, s.PREREGISTERED))
    # followup.rules.status in SQL, the furthest step recorded winning; each kind of event joined once
    # (hash joins: a correlated subquery per family takes minutes at a million persons).
    derived_status = (
        f"SELECT f.status, CASE WHEN f.status = '{s.PREREGISTERED}' THEN '{s.PREREGISTERED}' "
        f"WHEN c.kind = 'close' THEN '{s.CLOSED}' WHEN l.family_id IS NOT NULL THEN '{s.LINKED}' "
        f"WHEN u.family_id IS NOT NULL THEN '{s.IN_FOLLOWUP}' "
        f"WHEN r.family_id IS NOT NULL THEN '{s.REFERRED}' "
        f"ELSE '{s.RECEIVED}' END AS derived FROM family_units f "
        # The latest closure row (by id, as case_facts reads it).
        "LEFT JOIN (SELECT family_id, max(id) AS id FROM case_closures GROUP BY family_id) lc "
        "ON lc.family_id = f.id LEFT JOIN case_closures c ON c.id = lc.id "
        "LEFT JOIN (SELECT DISTINCT family_id FROM linkages) l ON l.family_id = f.id "
        "LEFT JOIN (SELECT DISTINCT family_id FROM followups) u ON u.family_id = f.id "
        f"LEFT JOIN (SELECT DISTINCT family_id FROM referrals WHERE status NOT IN ({without_slip})) r "
        "ON r.family_id = f.id"
    )
    audited = (
        "SELECT family_id, 'followup:record' AS action, count(*) AS n FROM followups GROUP BY family_id "
        "UNION ALL SELECT family_id, 'linkage:create', count(*) FROM linkages GROUP BY family_id "
        "UNION ALL SELECT family_id, 'family:transfer', count(*) FROM case_transfers GROUP BY family_id "
        "UNION ALL SELECT family_id, CASE WHEN kind = 'close' THEN 'family:close' ELSE 'family:reopen' END, "
        "count(*) FROM case_closures GROUP BY family_id, kind"
    )
    return [
        (
            "unidades familiares cuyo estado no es el que resulta de sus derivaciones, seguimientos, "
            "vinculaciones y cierres",
            f"SELECT count(*) FROM ({derived_status}) x WHERE x.status <> x.derived",
        ),
        (
            "unidades familiares cuyo último cambio de estado auditado (family:status) no es su estado",
            # No such event: the case never left the status it is registered with.
            "SELECT count(*) FROM family_units f WHERE f.status <> COALESCE((SELECT "
            f"{sql['details_to']} FROM audit_events a WHERE a.subject_type = 'family' "
            "AND a.subject_id = f.id AND a.action = 'family:status' ORDER BY a.id DESC LIMIT 1), "
            # A pre-registered family, or one confirmed at the desk (family:confirm), has none either.
            f"CASE WHEN f.status = '{s.PREREGISTERED}' THEN f.status ELSE '{s.RECEIVED}' END)",
        ),
        (
            "unidades familiares con próxima fecha de seguimiento estando vinculadas o cerradas, o sin ella "
            "estando abiertas",
            "SELECT count(*) FROM family_units WHERE "
            f"(status IN ({nothing_due}) AND followup_due_on IS NOT NULL) "
            f"OR (status NOT IN ({nothing_due}) AND followup_due_on IS NULL)",
        ),
        (
            "unidades familiares cuyo primer o último contacto no es el de sus seguimientos",
            "SELECT count(*) FROM family_units f LEFT JOIN (SELECT family_id, min(contacted_on) AS first, "
            "max(contacted_on) AS last FROM followups GROUP BY family_id) c ON c.family_id = f.id "
            "WHERE f.first_contact_on IS DISTINCT FROM c.first OR f.last_contact_on IS DISTINCT FROM c.last",
        ),
        (
            "unidades familiares cuyo riesgo de protección no corresponde a sus causas",
            "SELECT count(*) FROM family_units f WHERE CASE WHEN f.protection_risk THEN 1 ELSE 0 END <> "
            "CASE WHEN f.id IN (SELECT family_id FROM family_protection_causes) THEN 1 ELSE 0 END",
        ),
        (
            "cierres y reaperturas que no se alternan empezando por un cierre",
            "SELECT count(*) FROM (SELECT kind, "
            "LAG(kind) OVER (PARTITION BY family_id ORDER BY id) AS previous "
            "FROM case_closures) c WHERE (previous IS NULL AND kind <> 'close') OR previous = kind",
        ),
        (
            "cierres cuyo motivo no respaldan los registros (vinculada sin vinculación, no localizada con "
            "menos intentos)",
            "SELECT count(*) FROM case_closures c WHERE c.kind = 'close' AND ("
            "(c.reason = 'linked' AND NOT EXISTS (SELECT 1 FROM linkages l WHERE l.family_id = c.family_id)) "
            "OR (c.reason = 'not_located' AND (SELECT count(*) FROM followups u "
            "WHERE u.family_id = c.family_id AND u.outcome = 'not_located') "
            f"< {settings().not_located_attempts}))",
        ),
        (
            "vinculaciones con una derivación de otra familia, a otra institución o no atendida",
            "SELECT count(*) FROM linkages l JOIN referrals r ON r.id = l.referral_id "
            "WHERE r.family_id <> l.family_id OR l.institution_id IS NULL "
            "OR r.institution_id <> l.institution_id "
            "OR r.status <> 'attended'",
        ),
        (
            "unidades familiares cuyo destino no es el municipio de su último traslado",
            "SELECT count(*) FROM family_units f JOIN (SELECT family_id, to_municipality_id, "
            "ROW_NUMBER() OVER (PARTITION BY family_id ORDER BY id DESC) AS n FROM case_transfers) t "
            "ON t.family_id = f.id AND t.n = 1 WHERE t.to_municipality_id <> f.destination_municipality_id",
        ),
        (
            "seguimientos, vinculaciones, traslados, cierres o reaperturas sin su evento de auditoría",
            f"SELECT count(*) FROM ({audited}) x WHERE x.n <> (SELECT count(*) FROM audit_events a "
            "WHERE a.subject_type = 'family' AND a.subject_id = x.family_id AND a.action = x.action)",
        ),
        (
            "seguimientos o vinculaciones con fecha anterior a la llegada",
            f"SELECT (SELECT count(*) FROM followups u JOIN family_units f ON f.id = u.family_id "
            f"JOIN arrivals a ON a.id = f.arrival_id WHERE u.contacted_on < {sql['local_date']}) "
            f"+ (SELECT count(*) FROM linkages u JOIN family_units f ON f.id = u.family_id "
            f"JOIN arrivals a ON a.id = f.arrival_id WHERE u.linked_on < {sql['local_date']})",
        ),
    ]


def check_consistency(sample: int = SAMPLE) -> list[str]:
    """What breaks the rules the registration services keep; empty when the data is consistent."""
    problems = []
    for message, query in _queries():
        count = db.session.execute(text(query)).scalar_one()
        if count:
            problems.append(f"{count} {message}")
    problems += _check_sample(sample)
    problems += _check_followup_sample(min(sample, FOLLOWUP_SAMPLE))
    return problems


def _check_followup_sample(sample: int) -> list[str]:
    """Status, due date and contact days of a random sample, recomputed as ``refresh_case`` does."""
    ids = list(
        db.session.scalars(text("SELECT id FROM family_units ORDER BY random() LIMIT :n"), {"n": sample})
    )
    if not ids:
        return []
    wrong = 0
    config = settings()
    for start in range(0, len(ids), 500):
        families = db.session.scalars(select(FamilyUnit).where(FamilyUnit.id.in_(ids[start : start + 500])))
        for family in families:
            facts = case_facts(family)
            wrong += (
                family.status != rules.status(facts)
                or family.followup_due_on != rules.due_on(facts, config)
                or family.first_contact_on != facts.first_contact_on
                or family.last_contact_on != facts.last_contact_on
            )
        db.session.expire_all()
    if wrong:
        return [
            f"{wrong} de {len(ids)} unidades familiares revisadas cuyo estado o próxima fecha de "
            "seguimiento no es el que calculan las reglas del seguimiento"
        ]
    return []


def _check_sample(sample: int) -> list[str]:
    """Search text and CUIs of a random sample of families, with the services' own functions."""
    family_rows = db.session.execute(
        text("SELECT id, case_number, search_text FROM family_units ORDER BY random() LIMIT :n"),
        {"n": sample},
    ).all()
    if not family_rows:
        return []
    members: dict[int, list[Any]] = {row.id: [] for row in family_rows}
    ids = list(members)
    for start in range(0, len(ids), 500):
        for m in db.session.execute(
            text(
                "SELECT family_id, given_names, surnames, cui, document_number FROM members "
                "WHERE family_id IN :ids ORDER BY family_id, position, id"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": ids[start : start + 500]},
        ):
            members[m.family_id].append(m)
    stale = 0
    for row in family_rows:
        stale += search_text_of(row.case_number, members[row.id]) != row.search_text
    counts = municipalities_per_department()
    invalid = 0
    for cui in (m.cui for family in members.values() for m in family if m.cui):
        result = check_cui(cui, counts)
        invalid += bool(result.error or result.warning)
    problems = []
    if stale:
        problems.append(
            f"{stale} de {len(family_rows)} unidades familiares revisadas con texto de búsqueda "
            "desactualizado"
        )
    wrong_keys = _stale_keys(ids)
    if wrong_keys:
        problems.append(
            f"{wrong_keys} integrantes de las unidades familiares revisadas con claves fonéticas "
            "desactualizadas (búsqueda de registros anteriores)"
        )
    if invalid:
        problems.append(f"{invalid} CUI no válidos en las unidades familiares revisadas")
    return problems


def _stale_keys(family_ids: list[int]) -> int:
    """Members of these families whose ``member_keys`` are not what ``cases.phonetic.member_keys`` makes."""
    stored: dict[int, set[tuple[str, str]]] = {}
    stale = 0
    for start in range(0, len(family_ids), 500):
        chunk = {"ids": family_ids[start : start + 500]}
        for member_id, kind, key in db.session.execute(
            text(
                "SELECT k.member_id, k.kind, k.key FROM member_keys k JOIN members m ON m.id = k.member_id "
                "WHERE m.family_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            chunk,
        ):
            stored.setdefault(member_id, set()).add((kind, key))
        rows = db.session.execute(
            text(
                "SELECT m.id, m.given_names, m.surnames, m.birth_date, m.estimated_age, a.arrived_at "
                "FROM members m JOIN family_units f ON f.id = m.family_id "
                "JOIN arrivals a ON a.id = f.arrival_id WHERE m.family_id IN :ids"
            )
            .bindparams(bindparam("ids", expanding=True))
            .columns(birth_date=Date(), arrived_at=DateTime(timezone=True)),
            chunk,
        )
        for member_id, given, surnames, birth_date, estimated_age, arrived_at in rows:
            expected = member_keys(given, surnames, birth_date, estimated_age, to_local(arrived_at).date())
            stale += {(kind.value, key) for kind, key in expected} != stored.get(member_id, set())
    return stale
