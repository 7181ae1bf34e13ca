"""Headers and limits on every route (issue #10, item 4) and bounded route integers (item 5)."""

from __future__ import annotations

import pytest

from tests.factories import family_payload, form_data, login, make_arrival, make_family, make_user


def test_every_page_has_the_security_headers_and_no_store(client, ctx):
    user = make_user("coordinator")
    login(client, user)
    for url in ("/login", "/cases/", "/followup/", "/reports/", "/healthz", "/nowhere"):
        response = client.get(url)
        headers = response.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"], url
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], url
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store", url
        assert "Strict-Transport-Security" not in headers  # plain HTTP here


def test_static_files_may_be_cached(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_over_https(client):
    response = client.get("/login", base_url="https://sosep.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    "url",
    [
        "/cases/2147483648",
        "/cases/99999999999999999999",
        "/referrals/99999999999999999999/slip.pdf",
        "/arrivals/2147483648",
        "/cases/2147483648/followups/new",
    ],
)
def test_ids_beyond_the_database_range_are_not_found(client, ctx, url):
    login(client, make_user("coordinator"))
    assert client.get(url).status_code == 404


def test_the_largest_id_is_still_looked_up(client, ctx):
    login(client, make_user("coordinator"))
    assert client.get("/cases/2147483647").status_code == 404  # looked up, not there


def test_a_request_bigger_than_the_limit_is_refused_unread(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/login", data={"username": "x" * (limit + 1), "password": "y"})
    assert response.status_code == 413
    assert "demasiado grande" in response.get_data(as_text=True)


def test_a_saved_id_beyond_the_range_is_ignored(client, ctx):
    desk = make_user("reception", centre="FAG")
    arrival = make_arrival(desk)
    login(client, desk)
    response = client.get(f"/arrivals/{arrival.id}/families/new?saved=99999999999999999999")
    assert response.status_code == 200


def test_a_nul_byte_in_a_form_token_is_refused_not_looked_up(client, ctx):
    desk = make_user("reception", centre="FAG")
    arrival = make_arrival(desk)
    family = make_family(desk, arrival)
    login(client, desk)
    token = "\x00" + "a" * 31
    payload = form_data(family_payload())
    registered = client.post(
        f"/arrivals/{arrival.id}/families/new", data={**payload, "submission_token": token}
    )
    assert registered.status_code == 400
    referred = client.post(
        f"/cases/{family.id}/referrals/new",
        data={
            "submission_token": token,
            "institution": "SOSEP_SEDES",
            "member_ids": [str(family.members[0].id)],
            "reason": "x",
        },
    )
    assert referred.status_code == 400


def _every_get_url(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static":
            urls.append(rule.build({arg: 1 for arg in rule.arguments}, append_unknown=False)[1])
    return urls


@pytest.mark.parametrize("role", [None, "admin", "coordinator", "reception", "sede", "partner"])
def test_the_headers_are_on_every_route_of_the_url_map(app, role):
    """Whatever the answer (a page, a redirect, a 403 or 404, a PDF), every route of the URL map carries the
    headers, for every kind of user."""
    from tests.auth.helpers import account, signed_in
    from tests.referrals.partners import make_partner

    client = app.test_client()
    if role == "partner":
        from tests.auth.helpers import snapshot, within

        client = signed_in(app, within(app, lambda: snapshot(make_partner("OIM"))))
    elif role is not None:
        extra = {"reception": {"centre": "FAG"}, "sede": {"sede": "HUEHUETENANGO"}}.get(role, {})
        client = signed_in(app, account(app, role, **extra))
    urls = _every_get_url(app)
    assert "/cases/1" in urls and "/account/" in urls
    for url in urls:
        response = client.get(url)
        assert response.status_code < 500, url
        for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"):
            assert name in response.headers, (url, name)
        assert response.headers["Referrer-Policy"] == "no-referrer", url
        assert response.headers["Cache-Control"] == "no-store", url
