"""The institutions' contact data (issue #11, item 3): the shipped file, ``flask catalogs load
--institutions FILE`` (every row checked, all or nothing, idempotent), the fill at ``make run`` that never
overwrites an admin's edit, and the admin's list and form."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sosep_migrantes.catalogs import services
from sosep_migrantes.catalogs.contacts import (
    CONTACT_FIELDS,
    ContactFileError,
    is_valid_phone,
    parse_contacts,
)
from sosep_migrantes.catalogs.models import Institution
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db
from tests.catalogs.helpers import contacts_of, contacts_restored, set_contacts
from tests.factories import PASSWORD, make_user, sign_in_as

DATA = services.DATA_DIR
CODES = ("OIM", "REFUGIO_NINEZ", "CRISTOSAL", "SOSEP_SEDES", "MSPAS")


@pytest.fixture
def restored(app) -> Iterator[None]:
    with contacts_restored(app):
        yield


def write(tmp_path: Path, text: str, name: str = "contactos.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def load(app, path: Path):
    return app.test_cli_runner().invoke(args=["catalogs", "load", "--institutions", str(path)])


def saves() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "institution:save").order_by(AuditEvent.id)
        )
    )


# -- the shipped file -------------------------------------------------------------------------------


def test_the_shipped_file_names_each_institution_of_the_catalogue_once_and_loads(app, ctx):
    with (DATA / "institutions.csv").open(encoding="utf-8") as fh:
        catalogue = [row["code"] for row in csv.DictReader(fh)]
    content = (DATA / "institutions_contacts.csv").read_text(encoding="utf-8")
    assert content.splitlines()[0] == "code,address,phone,email,contact_person"
    rows = parse_contacts(content, catalogue)
    assert sorted(row.code for row in rows) == sorted(catalogue)


# -- flask catalogs load --institutions FILE ----------------------------------------------------------

GOOD = """code,address,phone,email,contact_person
OIM,"Oficina de prueba, 1a. calle 1-01, zona 1, Guatemala",2222 3333,prueba@example.org,Oficina de prueba
REFUGIO_NINEZ,,+502 2222-4444,,

CRISTOSAL,,,contacto@example.org,
"""


def test_a_good_file_updates_the_institutions_audits_them_and_a_second_load_changes_nothing(
    app, restored, tmp_path
):
    with app.app_context():
        set_contacts("CRISTOSAL", address="Dirección que el admin escribió")
        set_contacts("OIM")
        set_contacts("REFUGIO_NINEZ")
    path = write(tmp_path, GOOD)

    result = load(app, path)
    assert result.exit_code == 0, result.output
    assert "Institución OIM actualizada: dirección, teléfono, correo electrónico" in result.output
    assert "Institución REFUGIO_NINEZ actualizada: teléfono." in result.output
    with app.app_context():
        assert contacts_of("OIM") == {
            "address": "Oficina de prueba, 1a. calle 1-01, zona 1, Guatemala",
            "phone": "2222 3333",
            "email": "prueba@example.org",
            "contact_person": "Oficina de prueba",
        }
        assert contacts_of("REFUGIO_NINEZ")["phone"] == "+502 2222-4444"
        # A blank cell erases nothing: Cristosal keeps its address and gets the email.
        assert contacts_of("CRISTOSAL") == {
            "address": "Dirección que el admin escribió",
            "phone": None,
            "email": "contacto@example.org",
            "contact_person": None,
        }
        events = saves()
        ids = {
            code: db.session.scalar(select(Institution.id).where(Institution.code == code)) for code in CODES
        }
        assert [(e.subject_type, e.subject_id) for e in events] == [
            ("institution", ids["OIM"]),
            ("institution", ids["REFUGIO_NINEZ"]),
            ("institution", ids["CRISTOSAL"]),
        ]
        assert events[0].details == {
            "code": "OIM",
            "fields": list(CONTACT_FIELDS),
            "source": "catalogs load --institutions",
        }
        # The trail names the fields, never the values (a contact person is a person).
        assert "Oficina de prueba" not in str([e.details for e in events])

    again = load(app, path)
    assert again.exit_code == 0, again.output
    assert "nada cambió" in again.output
    with app.app_context():
        assert len(saves()) == 3


def test_a_file_with_a_bad_row_changes_nothing_and_names_each_line(app, restored, tmp_path):
    with app.app_context():
        set_contacts("OIM")
        before = {code: contacts_of(code) for code in CODES}
    path = write(
        tmp_path,
        "code,address,phone,email,contact_person\n"
        "OIM,Dirección buena,2222 3333,bueno@example.org,\n"  # good, but not saved either
        "REFUGIO_NINEZ,,2414-740,,\n"
        "CRISTOSAL,,,sin-arroba.example.org,\n"
        f"MSPAS,{'x' * 301},,,\n"
        "SOSEP_SEDES,,22223333,,\n"
        "OIM,,,,Otra vez\n",
    )
    result = load(app, path)
    assert result.exit_code == 1
    output = result.output
    assert "Línea 3, teléfono «2414-740»: Teléfono no válido: escriba 8 dígitos (2222 3333)" in output
    assert "Línea 4, correo electrónico «sin-arroba.example.org»: Correo electrónico no válido." in output
    assert "Línea 5, dirección «" + "x" * 40 + "…»: Debe tener como máximo 300 caracteres." in output
    assert "Línea 7: la institución OIM ya está en la línea 2." in output
    assert "Línea 2" not in output.replace("en la línea 2", "")
    assert "No se guardó nada: corrija el archivo y vuelva a cargarlo." in output
    with app.app_context():
        assert {code: contacts_of(code) for code in CODES} == before
        assert saves() == []


def test_an_unknown_institution_code_refuses_the_file(app, restored, tmp_path):
    with app.app_context():
        set_contacts("OIM")
        count = db.session.scalar(select(func.count(Institution.id)))
    path = write(tmp_path, "code,phone\nOIM,2222 3333\nOIM_GUATEMALA,2222 4444\n")
    result = load(app, path)
    assert result.exit_code == 1
    assert "Línea 3: «OIM_GUATEMALA» no es el código de una institución del catálogo." in result.output
    assert "No se guardó nada" in result.output
    with app.app_context():
        assert contacts_of("OIM")["phone"] is None
        assert db.session.scalar(select(func.count(Institution.id))) == count
        assert saves() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "El archivo está vacío."),
        ("code;phone\nOIM;22223333\n", "Línea 1: las columnas deben ir separadas por comas"),
        ("code,telefono\nOIM,22223333\n", "Línea 1: columna desconocida «telefono»; las columnas son: code,"),
        ("phone,email\n22223333,\n", "Línea 1: el encabezado debe tener la columna code"),
        ("code,phone,phone\nOIM,22223333,22223333\n", "Línea 1: una columna aparece dos veces."),
        ("code,phone\nOIM,22223333,sobra\n", "Línea 2: tiene 3 columnas y el encabezado 2."),
        ("code,phone\n,22223333\n", "Línea 2: falta el código de la institución."),
    ],
)
def test_a_malformed_file_is_refused_with_its_line(app, ctx, content, message):
    with pytest.raises(ContactFileError) as raised:
        parse_contacts(content, CODES)
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


def test_a_file_that_is_not_utf8_is_refused(app, restored, tmp_path):
    path = write(tmp_path, "code,address\nOIM,Dirección de prueba\n", encoding="latin-1")
    result = load(app, path)
    assert result.exit_code == 1
    assert "El archivo no está en UTF-8" in result.output


def test_a_spreadsheets_bom_and_crlf_are_read(app, restored, tmp_path):
    path = write(tmp_path, "\ufeffcode,phone\r\nOIM,2222 3333\r\n")
    result = load(app, path)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert contacts_of("OIM")["phone"] == "2222 3333"


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("22223333", True),
        ("2222 3333", True),
        ("2222-3333", True),
        ("+502 2222 3333", True),
        ("+502 2222-3333", True),
        ("+1 (202) 555-0100", True),
        ("+52 962 123 4567", True),
        ("2222-333", False),
        ("222233334", False),
        ("+502 2222 333", False),
        ("+502 2222 33334", False),
        ("+1 555", False),
        ("+1234567890123456", False),
        ("2222 3333 ext. 12", False),
        ("tel. 22223333", False),
        ("٢٢٢٢٣٣٣٣", False),
        ("2222\u00a03333", False),
    ],
)
def test_phone_rule(phone, valid):
    assert is_valid_phone(phone) is valid


# -- the fill at make run ---------------------------------------------------------------------------


def test_the_shipped_file_fills_only_empty_fields(app, restored, tmp_path, monkeypatch):
    """What ``make run`` (``flask setup``) and ``flask catalogs load`` do with the shipped file."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "institutions_contacts.csv").write_text(
        "code,address,phone,email,contact_person\nOIM,Dirección del archivo,2222 3333,archivo@example.org,\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(services, "DATA_DIR", data)
    with app.app_context():
        set_contacts("OIM", address="Dirección que el admin escribió", email="admin@example.org")
        added = services.load_catalogs()
        db.session.commit()
        assert added["institution_contacts"] == 1
        assert contacts_of("OIM") == {
            "address": "Dirección que el admin escribió",
            "phone": "2222 3333",
            "email": "admin@example.org",
            "contact_person": None,
        }
        assert services.load_catalogs()["institution_contacts"] == 0


# -- the admin's pages ------------------------------------------------------------------------------


def _admin(app):
    with app.app_context():
        username = make_user("admin").username
        db.session.remove()
    client = app.test_client()
    sign_in_as(client, username, PASSWORD)
    return client


def _row(page: str, code: str) -> str:
    match = re.search(rf'<tr id="institution-{code}">(.*?)</tr>', page, flags=re.S)
    assert match, code
    return match[1]


def test_the_list_shows_which_institutions_a_slip_would_print_incomplete(app, restored):
    with app.app_context():
        for institution in db.session.scalars(select(Institution)):
            set_contacts(institution.code, address="Dirección", phone="2222 3333")
        set_contacts("OIM", address="Oficina de prueba, zona 10", phone="2222 3333", email="p@example.org")
        set_contacts("REFUGIO_NINEZ", phone="2222 4444")
        set_contacts("CRISTOSAL", address="Oficina de prueba, zona 1", contact_person="Oficina de prueba")
        set_contacts("MSPAS")
    client = _admin(app)
    page = client.get("/admin/catalogs/institutions").get_data(as_text=True)

    assert "3 instituciones tienen datos de contacto incompletos para las boletas." in page
    oim = _row(page, "OIM")
    assert "Datos de contacto incompletos" not in oim and "Completos" in oim
    assert "Oficina de prueba, zona 10" in oim
    refugio = _row(page, "REFUGIO_NINEZ")
    assert "Datos de contacto incompletos" in refugio and "Falta: dirección." in refugio
    cristosal = _row(page, "CRISTOSAL")
    assert "Datos de contacto incompletos" in cristosal
    assert "Falta: teléfono o correo electrónico." in cristosal
    mspas = _row(page, "MSPAS")
    assert "Falta: dirección, teléfono o correo electrónico." in mspas

    edit = client.get(f"/admin/catalogs/institutions/{_id('REFUGIO_NINEZ', app)}").get_data(as_text=True)
    assert (
        "Datos de contacto incompletos" in edit and "Falta: dirección. La boleta omite lo que falta." in edit
    )


def _id(code: str, app) -> int:
    with app.app_context():
        return db.session.scalar(select(Institution.id).where(Institution.code == code))


def _form(app, code: str) -> dict[str, object]:
    with app.app_context():
        institution = db.session.scalars(select(Institution).where(Institution.code == code)).one()
        return {
            "code": institution.code,
            "kind": institution.kind.value,
            "name_es": institution.name_es,
            "name_en": institution.name_en,
            "is_active": "true",
            "needs": [n.code for n in institution.needs],
        }


def test_the_form_refuses_bad_contact_data_beside_each_field_and_keeps_what_was_typed(app, restored):
    with app.app_context():
        set_contacts("OIM")
    client = _admin(app)
    oim_id = _id("OIM", app)
    typed = {
        "address": "Oficina de prueba " + "x" * 300,
        "phone": "2222-333",
        "email": "correo@sin-punto",
        "contact_person": "Oficina de prueba",
    }
    response = client.post(f"/admin/catalogs/institutions/{oim_id}", data={**_form(app, "OIM"), **typed})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(r'id="f-phone"[^>]*aria-describedby="e-phone"', page)
    assert '<p class="error" id="e-phone">Teléfono no válido: escriba 8 dígitos' in page
    assert '<p class="error" id="e-email">Correo electrónico no válido.</p>' in page
    assert '<p class="error" id="e-address">Debe tener como máximo 300 caracteres.</p>' in page
    assert 'id="e-contact_person"' not in page
    for value in typed.values():
        assert f'value="{value}"' in page
    with app.app_context():
        assert contacts_of("OIM") == dict.fromkeys(CONTACT_FIELDS)

    good = {
        **typed,
        "address": "Oficina de prueba, zona 10",
        "phone": "+502 2222 3333",
        "email": "p@example.org",
    }
    response = client.post(f"/admin/catalogs/institutions/{oim_id}", data={**_form(app, "OIM"), **good})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        assert contacts_of("OIM") == good
    page = client.get("/admin/catalogs/institutions").get_data(as_text=True)
    assert "Datos de contacto incompletos" not in _row(page, "OIM")
