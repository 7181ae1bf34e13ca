"""Search at national scale: index-backed words, case numbers looked up whole, counts that stop at a cap."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from sosep_migrantes.cases import queries
from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.core.pagination import capped_count, paginate
from sosep_migrantes.extensions import db
from tests.cases.test_scoping import LISTED, search, signed_in
from tests.factories import make_arrival, make_family, make_user, member


@pytest.fixture
def five_families(app) -> list[str]:
    with app.app_context():
        staff = make_user("coordinator", username="carga")
        arrival = make_arrival(staff)
        numbers = [
            make_family(staff, arrival, members=[member("Ana", f"Ac Xol{n}")]).case_number for n in range(5)
        ]
        db.session.remove()
    return numbers


def test_a_case_number_is_found_whole_with_or_without_its_zeros(app, five_families):
    client = signed_in(app, "coordinator")
    third = five_families[2]  # FAG-YYYY-00003
    centre, year, seq = third.split("-")
    assert search(client, third) == {third}
    assert search(client, f"{centre.lower()}-{year}-{int(seq)}") == {third}
    assert search(client, f"{centre}-{year}-99999") == set()


def test_a_search_of_only_short_words_asks_for_a_longer_one(app, five_families):
    client = signed_in(app, "coordinator")
    response = client.post("/cases/", data={"q": "Ac"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Escriba al menos una palabra de 3 letras o números" in html
    assert 'aria-invalid="true"' in html and 'value="Ac"' in html  # beside the field, text kept
    assert LISTED.findall(html) == []
    # A short word still narrows a search that has a long one.
    assert search(client, "ac xol3") == {five_families[3]}
    assert search(client, "ana ac") == set(five_families)


def test_like_wildcards_typed_by_a_user_are_plain_characters(app, five_families):
    client = signed_in(app, "coordinator")
    assert search(client, "xol%") == set()
    assert search(client, "x_l") == set()


def test_the_count_stops_at_the_cap_and_the_pager_still_moves_on(app, five_families, monkeypatch):
    monkeypatch.setitem(app.config, "CASES_COUNT_CAP", 3)
    monkeypatch.setitem(app.config, "CASES_PER_PAGE", 2)
    client = signed_in(app, "coordinator")
    html = client.post("/cases/", data={"q": "ana"}).get_data(as_text=True)
    assert "Más de 3 unidades familiares encontradas" in html
    assert "Página 1</span>" in html and "Página 1 de" not in html
    pages = [
        set(LISTED.findall(client.post("/cases/", data={"q": "ana", "page": n}).get_data(as_text=True)))
        for n in (1, 2, 3)
    ]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert set().union(*pages) == set(five_families)
    last = client.post("/cases/", data={"q": "ana", "page": 3}).get_data(as_text=True)
    assert "Siguiente" not in last and "Anterior" in last
    # Under the cap the total is exact and the pages are numbered.
    monkeypatch.setitem(app.config, "CASES_COUNT_CAP", 10)
    html = client.get("/cases/").get_data(as_text=True)
    assert "5 unidades familiares encontradas" in html and "Página 1 de 3" in html


def test_paginate_counts_up_to_the_cap_plus_one(app, five_families):
    with app.app_context():
        stmt = db.select(FamilyUnit).order_by(FamilyUnit.id)
        assert capped_count(stmt, cap=3) == 4
        assert capped_count(stmt, cap=10) == 5
        page = paginate(stmt, 99, per_page=2, cap=10)  # past the end: the last page
        assert (page.number, page.pages, page.has_next, len(page.items)) == (3, 3, False, 1)
        page = paginate(stmt, 2, per_page=2, cap=3)
        assert (page.number, page.pages, page.has_next, page.total_is_exact) == (2, None, True, False)


def test_word_search_uses_the_trigram_index_on_postgresql_and_none_is_built_on_sqlite(app):
    with app.app_context():
        indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("family_units")}
        if db.engine.dialect.name != "postgresql":
            assert "ix_family_units_search_text_trgm" not in indexes
            return
        assert "ix_family_units_search_text_trgm" in indexes
        stmt = db.select(FamilyUnit.id).where(*queries.search_conditions("López María"))
        sql = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        # The table is tiny here, so the planner would rather read it: forbid that to see the index used.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.scalars(text(f"EXPLAIN {sql}")))
        db.session.rollback()
        assert "ix_family_units_search_text_trgm" in plan


def test_searches_are_planned_on_their_own_words_on_postgresql(app):
    with app.app_context():
        queries.plan_each_search()  # a no-op on SQLite
        if db.engine.dialect.name == "postgresql":
            setting = db.session.scalar(text("SELECT current_setting('plan_cache_mode')"))
            assert setting == "force_custom_plan"
            db.session.rollback()  # SET LOCAL: the next request plans as usual
            assert db.session.scalar(text("SELECT current_setting('plan_cache_mode')")) == "auto"
        db.session.rollback()
