"""The audit log page: pages of 100 events, newest first, without counting the whole table."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from sosep_migrantes.core import audit
from sosep_migrantes.core.audit import AuditAction, AuditEvent
from sosep_migrantes.extensions import db
from tests.factories import login, make_user


def test_the_log_pages_by_a_hundred_events(app, ctx, client):
    admin = make_user("admin")
    for sede_id in range(1, 151):
        audit.record(AuditAction.SEDE_COVERAGE, "sede", sede_id, actor_id=admin.id)
    db.session.commit()
    login(client, admin)  # one more event: user:login

    first = client.get("/admin/audit").get_data(as_text=True)
    assert len(re.findall(r"<tr>\s*<td>", first)) == 100
    assert "#150" in first and "#51<" not in first
    assert 'href="/admin/audit?page=2" rel="next"' in first and 'rel="prev"' not in first

    total = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert 101 < total < 200
    second = client.get("/admin/audit?page=2").get_data(as_text=True)
    assert len(re.findall(r"<tr>\s*<td>", second)) == total - 100
    assert "#50<" in second and admin.username in second
    assert 'href="/admin/audit?page=1" rel="prev"' in second and 'rel="next"' not in second
