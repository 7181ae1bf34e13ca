# ruff: noqa: S608 - every query here is our own text; nothing typed by a user reaches it
"""Consistency checks on the case data, whoever wrote it: the desk (through the services) or the bulk
generator. ``flask demo-data --check`` runs them.

Each check is one SQL query (``GROUP BY`` / ``NOT EXISTS``) counting what breaks a rule the services
keep, so they run in seconds on a million persons. Two rules need Python (folding text, the CUI check
digit) and are checked on a random sample of families.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text

from ..cases.services import search_text_of
from ..catalogs.services import municipalities_per_department
from ..core.cui import check_cui
from ..extensions import db
from ..referrals.services import TRANSITIONS

#: Families whose search text and CUIs are checked in Python.
SAMPLE = 2_000


def _dialect_sql() -> dict[str, str]:
    if db.session.get_bind().dialect.name == "postgresql":
        return {
            "local_year": "CAST(EXTRACT(YEAR FROM a.arrived_at AT TIME ZONE 'America/Guatemala') AS INTEGER)",
            "local_date": "CAST(a.arrived_at AT TIME ZONE 'America/Guatemala' AS DATE)",
            "seq5": "lpad(CAST(f.case_seq AS TEXT), 5, '0')",
        }
    # SQLite keeps UTC text; Guatemala has been UTC-6 all year since 2006.
    return {
        "local_year": "CAST(strftime('%Y', a.arrived_at, '-6 hours') AS INTEGER)",
        "local_date": "date(a.arrived_at, '-6 hours')",
        "seq5": "substr('0000' || CAST(f.case_seq AS TEXT), -5, 5)",
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
        (
            "unidades familiares aún «recibidas» con una derivación enviada",
            "SELECT count(*) FROM family_units f WHERE f.status = 'received' AND EXISTS (SELECT 1 FROM "
            "referrals r "
            "JOIN referral_events e ON e.referral_id = r.id WHERE r.family_id = f.id AND e.to_status = "
            "'sent')",
        ),
        (
            "unidades familiares «derivadas» sin ninguna derivación enviada",
            "SELECT count(*) FROM family_units f WHERE f.status = 'referred' AND NOT EXISTS (SELECT 1 FROM "
            "referrals r "
            "JOIN referral_events e ON e.referral_id = r.id WHERE r.family_id = f.id AND e.to_status = "
            "'sent')",
        ),
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


def check_consistency(sample: int = SAMPLE) -> list[str]:
    """What breaks the rules the registration services keep; empty when the data is consistent."""
    problems = []
    for message, query in _queries():
        count = db.session.execute(text(query)).scalar_one()
        if count:
            problems.append(f"{count} {message}")
    problems += _check_sample(sample)
    return problems


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
    if invalid:
        problems.append(f"{invalid} CUI no válidos en las unidades familiares revisadas")
    return problems
