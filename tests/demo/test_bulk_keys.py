"""The bulk generator writes the members' phonetic keys, the same the services would (issue #12)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from sosep_migrantes.cases.models import FamilyUnit, Member, MemberKey
from sosep_migrantes.cases.phonetic import member_keys, name_key
from sosep_migrantes.core.timeutil import to_local
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival

from .test_bulk import run_bulk


def test_a_bulk_run_writes_the_keys_the_services_would(app, ctx):
    run_bulk(app, 600)
    stored: dict[int, set[tuple[str, str]]] = defaultdict(set)
    names: dict[int, set[str]] = defaultdict(set)
    for member_id, kind, key, name in db.session.execute(
        select(MemberKey.member_id, MemberKey.kind, MemberKey.key, MemberKey.name_key)
    ):
        stored[member_id].add((kind.value, key))
        names[member_id].add(name)
    rows = db.session.execute(
        select(
            Member.id,
            Member.given_names,
            Member.surnames,
            Member.birth_date,
            Member.estimated_age,
            Arrival.arrived_at,
        )
        .join(FamilyUnit, FamilyUnit.id == Member.family_id)
        .join(Arrival, Arrival.id == FamilyUnit.arrival_id)
    ).all()
    assert len(rows) == 600
    for member_id, given, surnames, birth_date, estimated_age, arrived_at in rows:
        expected = member_keys(given, surnames, birth_date, estimated_age, to_local(arrived_at).date())
        assert stored[member_id] == {(kind.value, key) for kind, key in expected}, (given, surnames)
        assert names[member_id] == {name_key(given, surnames)}
