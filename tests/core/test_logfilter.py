"""A database error is logged without the values that caused it (issue #10, item 5).

The engine hides the statement's parameters, but PostgreSQL's ``DETAIL:`` line repeated the key of a
unique violation and the whole row of a check violation (a person's name, a password hash) in every
traceback the 500 handler logged.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import IntegrityError

from sosep_migrantes.auth.models import User
from sosep_migrantes.core.logfilter import DatabaseErrorFilter, scrub
from sosep_migrantes.core.transaction import unit_of_work
from sosep_migrantes.extensions import db
from tests.conftest import make_app
from tests.factories import make_user

#: A user name and a full name that look like a person's, as the log must never show them.
TAKEN = "maria.lopez.tzoc"
FULL_NAME = "María López Tzoc"


@pytest.fixture
def root_output() -> Iterator[io.StringIO]:
    """What a plain handler on the root logger writes (as basicConfig's or gunicorn's would)."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield output
    root.removeHandler(handler)


@pytest.fixture
def failing_app(app, database_url):
    """A fresh app (routes can only be added before its first request) with routes that break constraints."""
    test_app = make_app(database_url)

    @test_app.post("/test-duplicate-user-name")
    def duplicate() -> str:
        with unit_of_work():
            other = db.session.scalar(select_other_user())
            db.session.execute(update(User).where(User.id == other).values(username=TAKEN))
        return "saved"

    @test_app.post("/test-reception-user-without-centre")
    def without_centre() -> str:
        with unit_of_work():
            db.session.execute(update(User).where(User.username == TAKEN).values(centre_id=None))
        return "saved"

    with test_app.app_context():
        make_user("reception", centre="FAG", username=TAKEN)
        user = db.session.scalar(select(User).where(User.username == TAKEN))
        user.full_name = FULL_NAME
        db.session.commit()
        make_user("reception", centre="FAG")
        db.session.remove()
    yield test_app
    with test_app.app_context():
        db.session.remove()
        db.engine.dispose()


def select_other_user():
    return select(User.id).where(User.username != TAKEN).limit(1)


@pytest.mark.parametrize(
    ("url", "constraint"),
    [
        ("/test-duplicate-user-name", "username"),  # unique: DETAIL: Key (username)=(...) already exists.
        ("/test-reception-user-without-centre", "reception_has_centre"),  # check: Failing row contains (...)
    ],
)
def test_a_constraint_broken_in_a_request_is_logged_without_its_values(
    failing_app, caplog, root_output, url, constraint
):
    caplog.set_level(logging.ERROR)
    response = failing_app.test_client().post(url)
    assert response.status_code == 500
    for output in (caplog.text, root_output.getvalue()):
        assert "IntegrityError" in output and constraint in output  # what the operator needs stays
        assert TAKEN not in output and "Tzoc" not in output and "argon2" not in output
        assert "DETAIL" not in output and "[parameters:" not in output
    with failing_app.app_context():
        assert db.session.scalar(select(User.centre_id).where(User.username == TAKEN)) is not None


def test_an_error_logged_by_hand_or_formatted_into_the_message_is_scrubbed(app, ctx, caplog, root_output):
    make_user("reception", centre="FAG", username=TAKEN)
    other = make_user("reception", centre="FAG")
    caplog.set_level(logging.INFO)
    try:
        db.session.execute(update(User).where(User.id == other.id).values(username=TAKEN))
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        logging.getLogger("sosep_migrantes").exception("Saving the user failed")
        logging.getLogger("sosep_migrantes.jobs").error("Saving failed: %s", exc)
        logging.getLogger("sosep_migrantes.jobs").warning("Saving failed: " + str(exc.orig))
    else:
        pytest.fail("the database accepted a second user with the same name")
    assert caplog.text.count("Saving") == 3
    for output in (caplog.text, root_output.getvalue()):
        assert TAKEN not in output and "DETAIL" not in output


def test_parameters_shown_by_an_engine_without_hide_parameters_are_removed(app, database_url, caplog):
    """``[parameters: ...]`` (an engine of a script or a migration, not the app's) goes the same way."""
    engine = create_engine(database_url)
    caplog.set_level(logging.ERROR)
    try:
        with engine.connect() as connection:
            connection.execute(
                text("SELECT 1 FROM users WHERE username = :name AND nonexistent"), {"name": TAKEN}
            )
    except Exception as exc:  # the column does not exist: the error shows the parameters
        assert "[parameters: " in str(exc) and TAKEN in str(exc)
        logging.getLogger("sosep_migrantes.jobs").exception("Query failed")
    finally:
        engine.dispose()
    assert "Query failed" in caplog.text and "[parameters hidden]" in caplog.text
    assert TAKEN not in caplog.text


def test_what_is_removed_from_the_server_s_text():
    sample = (
        '(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "uq_x"\n'
        "DETAIL:  Key (username)=(maria.lopez) already exists.\n"
        "[SQL: UPDATE users SET username=%(username)s::VARCHAR WHERE users.id = %(id_1)s::INTEGER]\n"
        "[parameters: {'username': 'maria.lopez', 'id_1': 2}]\n"
        "(Background on this error at: https://sqlalche.me/e/21/gkpj)\n"
        'invalid input syntax for type integer: "1304 María"\n'
        "CONTEXT:  unnamed portal parameter $1 = '...'\n"
        'value "99999999999" is out of range for type integer\n'
    )
    assert scrub(sample) == (
        '(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "uq_x"\n'
        "[SQL: UPDATE users SET username=%(username)s::VARCHAR WHERE users.id = %(id_1)s::INTEGER]\n"
        "[parameters hidden]\n"
        "(Background on this error at: https://sqlalche.me/e/21/gkpj)\n"
        'invalid input syntax for type integer: "…"\n'
        'value "…" is out of range for type integer\n'
    )
    # Anything else is left alone, and no record is ever dropped.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "Listed %d families", (3,), None)
    assert DatabaseErrorFilter().filter(record) and record.getMessage() == "Listed 3 families"
