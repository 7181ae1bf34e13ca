"""An arrival's date and time: read in Guatemala's time whatever offset it comes with (issue #10, item 5).

The form sends local time without a zone; the same schema serves the API, where a client may send an
offset. The range rules (not before 2014, not more than two days ahead) used to read the date in the
sender's offset, so ``+14:00`` moved an arrival of 31 December 2013 (Guatemala) into 2014.
"""

from __future__ import annotations

import datetime as dt

import pytest
from marshmallow import ValidationError

from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.reception.schemas import ArrivalSchema
from tests.factories import login, make_user

OFFSET_MESSAGE = "La zona horaria debe estar entre -12:00 y +14:00 (Guatemala: -06:00)."
TOO_OLD = "La fecha de llegada es demasiado antigua (desde 2014)."
TOO_FAR = "La llegada no puede ser de más de dos días en el futuro."


def load(arrived_at: str) -> dict:
    return ArrivalSchema().load({"centre": "FAG", "arrived_at": arrived_at, "mode": "air", "country": "US"})


def error_of(arrived_at: str) -> str:
    with pytest.raises(ValidationError) as caught:
        load(arrived_at)
    messages = caught.value.messages["arrived_at"]
    return " ".join(messages) if isinstance(messages, list) else str(messages)


def test_a_time_without_offset_is_guatemala_time_stored_in_utc(app, ctx):
    assert load("2026-11-20T10:30")["arrived_at"] == dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("sent", "utc"),
    [
        ("2026-11-20T10:30-06:00", dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.UTC)),
        ("2026-11-20T16:30Z", dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.UTC)),
        ("2026-11-21T06:30+14:00", dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.UTC)),
        ("2026-11-20T04:30-12:00", dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.UTC)),
    ],
)
def test_an_offset_in_the_world_s_range_is_converted(app, ctx, sent, utc):
    assert load(sent)["arrived_at"] == utc


@pytest.mark.parametrize("offset", ["+14:01", "+23:59", "-12:01", "-23:59", "+20:00"])
def test_an_offset_no_place_uses_is_refused(app, ctx, offset):
    assert error_of(f"2026-11-20T10:30{offset}") == OFFSET_MESSAGE


def test_since_2014_is_counted_in_guatemala_s_time(app, ctx):
    # 00:30 on 1 January 2014 at +14:00 is 04:30 on 31 December 2013 in Guatemala: too old.
    assert error_of("2014-01-01T00:30+14:00") == TOO_OLD
    # 20:00 on 31 December 2013 at -12:00 is 02:00 on 1 January 2014 in Guatemala: accepted.
    assert load("2013-12-31T20:00-12:00")["arrived_at"] == dt.datetime(2014, 1, 1, 8, 0, tzinfo=dt.UTC)


def test_two_days_ahead_is_counted_in_guatemala_s_time(app, ctx):
    ahead = dt.datetime.now(LOCAL_TZ) + dt.timedelta(days=2, hours=1)
    for offset in (dt.timedelta(hours=14), dt.timedelta(hours=-12)):
        sent = ahead.astimezone(dt.timezone(offset)).isoformat(timespec="minutes")
        assert error_of(sent) == TOO_FAR
    nearly = (dt.datetime.now(LOCAL_TZ) + dt.timedelta(days=1)).astimezone(
        dt.timezone(dt.timedelta(hours=14))
    )
    assert load(nearly.isoformat(timespec="minutes"))["arrived_at"] <= dt.datetime.now(dt.UTC) + dt.timedelta(
        days=2
    )


@pytest.mark.parametrize("sent", ["9999-12-31T23:00-12:00", "0001-01-01T00:00+14:00", "9999-12-31T23:59"])
def test_the_calendar_s_edges_are_refused_not_a_500(app, ctx, sent):
    assert error_of(sent) in {"Fecha y hora no válidas.", TOO_OLD, TOO_FAR}


def test_the_arrival_form_shows_the_rule_beside_the_field(app, ctx, client):
    login(client, make_user("reception", centre="FAG"))
    form = {"centre": "FAG", "mode": "air", "country": "US"}
    response = client.post("/arrivals/new", data={**form, "arrived_at": "2014-01-01T00:30+14:00"})
    assert response.status_code == 400
    assert f'id="e-arrived_at">{TOO_OLD}</p>' in response.get_data(as_text=True)
    response = client.post("/arrivals/new", data={**form, "arrived_at": "2026-11-20T10:30+23:59"})
    assert response.status_code == 400
    assert f'id="e-arrived_at">{OFFSET_MESSAGE}</p>' in response.get_data(as_text=True)
