"""Passenger-list import (issue #11, item 4): an arrival pre-registered from its CSV or XLSX list, previewed,
confirmed, then each family confirmed and completed at the desk; bad files refused with nothing changed."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from sosep_migrantes.cases.models import CaseStatus, FamilyUnit, Member
from sosep_migrantes.core.audit import AuditAction, AuditEvent
from sosep_migrantes.desk.models import PassengerList
from sosep_migrantes.desk.passenger_list import MAX_ROWS
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import queries as inbox
from sosep_migrantes.needs.models import FamilyNeed
from sosep_migrantes.referrals.models import Referral
from sosep_migrantes.reports.queries import ReportFilters, report_population, totals
from tests.desk.passenger_lists import FLIGHT, HEADERS, csv_bytes, xlsx_bytes
from tests.factories import login, make_arrival, make_family, make_user, sign_in_as
from tests.factories import member as member_row

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def desk(client, ctx):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    login(client, user)
    return user, arrival


def upload(client, arrival, content: bytes, name: str = "vuelo.xlsx"):
    return client.post(
        f"/arrivals/{arrival.id}/passenger-list",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def token_of(response) -> str:
    match = re.search(r'name="token" value="(\w+)"', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def confirm(client, arrival, token: str):
    return client.post(f"/arrivals/{arrival.id}/passenger-list/confirm", data={"token": token})


def import_flight(
    client, arrival, content: bytes | None = None, name: str = "vuelo.xlsx"
) -> list[FamilyUnit]:
    response = upload(client, arrival, content or xlsx_bytes(), name)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert confirm(client, arrival, token_of(response)).status_code == 302
    db.session.expire_all()
    return list(db.session.scalars(select(FamilyUnit).order_by(FamilyUnit.id)))


def counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (FamilyUnit, Member, PassengerList, AuditEvent)
    }


def text_of(response) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- the template ---------------------------------------------------------------------------------------


def test_the_templates_are_in_spanish_and_read_back_as_empty_lists(client, desk):
    _user, arrival = desk
    page = client.get(f"/arrivals/{arrival.id}").get_data(as_text=True)
    assert (
        "/arrivals/passenger-list-template.xlsx" in page and "/arrivals/passenger-list-template.csv" in page
    )
    as_csv = client.get("/arrivals/passenger-list-template.csv")
    assert as_csv.mimetype == "text/csv" and "attachment" in as_csv.headers["Content-Disposition"]
    assert as_csv.data.startswith(b"\xef\xbb\xbf")  # Excel shows the accents
    assert as_csv.data.decode("utf-8-sig").strip().split(",") == list(HEADERS)
    as_xlsx = client.get("/arrivals/passenger-list-template.xlsx")
    assert as_xlsx.mimetype == XLSX_TYPE
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(as_xlsx.data), read_only=True)
    assert [c for c in next(book.worksheets[0].iter_rows(values_only=True)) if c] == list(HEADERS)
    assert "Instrucciones" in book.sheetnames
    for content, name in ((as_csv.data, "plantilla.csv"), (as_xlsx.data, "plantilla.xlsx")):
        response = upload(client, arrival, content, name)
        assert response.status_code == 400
        assert "La lista tiene encabezados pero ninguna persona." in text_of(response)


# -- a good file ----------------------------------------------------------------------------------------


def test_a_good_list_is_previewed_then_its_groups_become_preregistered_families(client, desk):
    user, arrival = desk
    before = counts()
    response = upload(client, arrival, xlsx_bytes())
    page = text_of(response)
    assert response.status_code == 200
    assert "11 filas leídas." in page
    assert "Al confirmar se pre-registrarán 4 unidades familiares (11 personas)." in page
    assert "María Elena López Pérez · 34 años · Jefe(a) de familia (supuesto)" in page
    assert "José Luis López Pérez · 3 años · Hijo (supuesto)" in page
    assert "Pedro López García · 65 años · Abuelo(a)" in page
    assert "Elena Chávez Ixcoy · 47 años · Jefe(a) de familia" in page
    assert "Marta Chávez Ixcoy · 25 años · Otro familiar (supuesto)" in page
    assert "Cuilco, Huehuetenango" in page and "Santa María Nebaj, Quiché" in page
    # Nothing created by the preview: only the upload kept on the server for the confirmation.
    assert counts() == before | {"passenger_lists": 1}
    kept = db.session.scalars(select(PassengerList)).one()
    assert kept.token == token_of(response) and kept.token not in (response.headers.get("Set-Cookie") or "")
    assert kept.confirmed_at is None and len(kept.rows) == 11

    response = confirm(client, arrival, kept.token)
    assert response.status_code == 302 and response.location == f"/arrivals/{arrival.id}"
    db.session.expire_all()
    families = db.session.scalars(select(FamilyUnit).order_by(FamilyUnit.id)).all()
    assert [f.passenger_group for f in families] == ["FAM-01", "FAM-02", "FAM-03", "FAM-04"]
    assert [f.case_number for f in families] == [f"FAG-2026-0000{n}" for n in range(1, 5)]
    assert {f.status for f in families} == {CaseStatus.PREREGISTERED}
    assert {f.consent_type for f in families} == {None}
    assert {f.followup_due_on for f in families} == {None}  # nothing owed before the desk confirms
    first = families[0]
    assert [(m.given_names, m.relationship_to_head.code) for m in first.members] == [
        ("María Elena", "HEAD"),
        ("José Luis", "SON"),
        ("Ana Sofía", "DAUGHTER"),
        ("Pedro", "GRANDPARENT"),
    ]
    assert first.members[0].cui == "2456789051304" and first.members[0].birth_date == dt.date(1992, 3, 15)
    assert (first.members[3].document_type.code, first.members[3].document_number) == ("OTHER", "P1234567")
    assert first.phone == "5555 1234" and first.destination.id == 1304
    assert "maria elena lopez perez" in first.search_text and "2456789051304" in first.search_text
    kept = db.session.scalars(select(PassengerList)).one()
    assert kept.families_created == 4 and kept.rows is None and kept.confirmed_by_id == user.id
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert (
        actions.count(AuditAction.FAMILY_CREATE) == 4
        and actions.count(AuditAction.PASSENGER_LIST_IMPORT) == 1
    )
    arrival_page = text_of(client.get(response.location))
    assert "4 unidades familiares pre-registradas (11 personas)" in arrival_page
    assert "4 unidades familiares pre-registradas por confirmar" in arrival_page
    assert "0 unidades familiares" in arrival_page  # none received yet
    assert "(+4 pre-registradas)" in text_of(client.get("/arrivals/"))


def test_a_csv_from_excel_in_latin_1_with_semicolons_reads_the_same(client, desk):
    _user, arrival = desk
    families = import_flight(
        client, arrival, csv_bytes(delimiter=";", encoding="cp1252"), name="LISTA VUELO.CSV"
    )
    assert len(families) == 4
    assert [m.full_name for m in families[0].members][:3] == [
        "María Elena López Pérez",
        "José Luis López Pérez",
        "Ana Sofía López Pérez",
    ]
    assert families[1].destination.name == "Santa María Nebaj"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_a_csv_in_unicode_reads_with_or_without_its_mark(client, desk, encoding):
    _user, arrival = desk
    families = import_flight(client, arrival, csv_bytes(encoding=encoding), name="vuelo.csv")
    assert families[0].members[2].given_names == "Ana Sofía"


def test_preregistered_families_are_counted_apart_until_confirmed(client, desk):
    user, arrival = desk
    received = make_family(user, arrival)
    import_flight(client, arrival)
    page = text_of(client.get("/cases/"))
    assert received.case_number in page and "FAG-2026-00002" not in page
    client.post("/cases/", data={"status": "preregistered"})  # the filters are kept, the list follows
    assert "FAG-2026-00002" in text_of(client.get("/cases/"))
    client.post("/cases/", data={"clear": "1"})
    november = ReportFilters(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    with report_population(make_user("coordinator"), november) as population:
        assert totals(population)["families"] == 1 and totals(population)["persons"] == 2
    sede = make_user("sede", sede="HUEHUETENANGO")
    open_ = inbox.inbox_families(sede, inbox.InboxFilters(sede_id=sede.sede_id))
    every = inbox.inbox_families(sede, inbox.InboxFilters(sede_id=sede.sede_id, status=inbox.ALL))
    for stmt in (open_, every):
        assert db.session.scalars(stmt).all() == [received]


# -- the same file, or a corrected one, again -----------------------------------------------------------


def test_the_same_file_again_creates_nothing(client, desk):
    _user, arrival = desk
    content = xlsx_bytes()  # the same bytes: openpyxl stamps each book it writes with the time
    import_flight(client, arrival, content)
    before = counts()
    response = upload(client, arrival, content, "otra vez.xlsx")
    assert response.status_code == 400
    assert "Este mismo archivo ya se importó en esta llegada el" in text_of(response)
    assert "No se guardó nada." in text_of(response)
    assert counts() == before


def test_a_corrected_list_creates_only_the_groups_not_yet_imported(client, desk):
    _user, arrival = desk
    broken = [list(row) for row in FLIGHT]
    broken[4][3] = "31/02/1990"  # Catarina's date of birth: FAM-02 waits for the corrected list
    response = upload(client, arrival, csv_bytes(broken), "vuelo.csv")
    page = text_of(response)
    assert "Fila 6 Fecha de nacimiento: fecha no válida: escríbala como dd/mm/aaaa." in page
    assert "Corrija las filas: 6." in page
    assert "Al confirmar se pre-registrarán 3 unidades familiares (9 personas)." in page
    confirm(client, arrival, token_of(response))
    assert db.session.scalar(select(func.count()).select_from(FamilyUnit)) == 3
    response = upload(client, arrival, csv_bytes(), "vuelo corregido.csv")
    page = text_of(response)
    assert "Ya importado: FAG-2026-00001" in page
    assert "Al confirmar se pre-registrará 1 unidad familiar (2 personas)." in page
    confirm(client, arrival, token_of(response))
    groups = db.session.scalars(select(FamilyUnit.passenger_group).order_by(FamilyUnit.id)).all()
    assert groups == ["FAM-01", "FAM-03", "FAM-04", "FAM-02"]


def test_a_confirmation_sent_twice_creates_the_families_once(client, desk):
    _user, arrival = desk
    token = token_of(upload(client, arrival, xlsx_bytes()))
    assert confirm(client, arrival, token).status_code == 302
    again = confirm(client, arrival, token)
    assert again.status_code == 302
    assert "Esta lista ya se confirmó el" in text_of(client.get(again.location))
    assert db.session.scalar(select(func.count()).select_from(FamilyUnit)) == 4
    # The same list in another file: every group is on the arrival already, nothing to confirm.
    other = upload(client, arrival, csv_bytes(), "vuelo.csv")
    assert "Ya importado: FAG-2026-00004" in text_of(other)
    assert 'name="token"' not in other.get_data(as_text=True)


# -- rows with problems -------------------------------------------------------------------------------


def test_each_rows_problems_are_named_in_spanish_with_the_row_number(client, desk):
    _user, arrival = desk
    rows = [list(row) for row in FLIGHT]
    rows[0][2] = "X"  # sex
    rows[1][3] = ""  # no date of birth
    rows[4][4] = "2456789059901"  # CUI of department 99
    rows[6][7] = "Atlantis"  # no such municipality
    rows[6][8] = "12"  # phone
    rows[9][0] = ""  # given names
    rows[10][5] = ""  # no group
    response = upload(client, arrival, csv_bytes(rows), "vuelo.csv")
    page = text_of(response)
    assert response.status_code == 200
    for expected in (
        "Fila 2 Sexo: escriba F (mujer) o M (hombre).",
        "Fila 3 Fecha de nacimiento: falta; escríbala como dd/mm/aaaa.",
        "Fila 6 CUI u otro documento: el CUI tiene un código de departamento inexistente (01 a 22).",
        "Fila 8 Destino: no se encontró el municipio «Atlantis, San Marcos» en el catálogo.",
        "Fila 8 Teléfono: teléfono no válido",
        "Fila 11 Nombres: este campo es obligatorio.",
        "Fila 12 Grupo familiar: falta la referencia del grupo.",
    ):
        assert expected in page, expected
    assert "No hay ninguna unidad familiar que se pueda crear con este archivo." in page
    assert 'name="token"' not in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PassengerList)) == 0


def test_groups_that_contradict_themselves_are_not_created(client, desk):
    _user, arrival = desk
    rows = [list(row) for row in FLIGHT]
    rows[5][6:8] = ["Huehuetenango", "Cuilco"]  # FAM-02: two destinations
    rows[6][9] = rows[7][9] = "Jefe(a) de familia"  # FAM-03: two heads
    rows[9][6] = rows[9][7] = ""  # FAM-04: no destination at all
    page = text_of(upload(client, arrival, csv_bytes(rows), "vuelo.csv"))
    assert "Las filas del grupo tienen destinos distintos: una familia tiene uno." in page
    assert "El grupo tiene 2 jefes(as) de familia: indique uno solo en «Parentesco»." in page
    assert "Falta el destino: escriba el departamento y el municipio en al menos una fila del grupo." in page
    assert "Al confirmar se pre-registrará 1 unidad familiar (4 personas)." in page


# -- bad files: a clear message, nothing changed ------------------------------------------------------


def _bomb() -> bytes:
    """A zip that looks like an XLSX and unpacks a sheet of 200 MB of spaces (a few hundred kB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b" " * 2**20
            for _ in range(200):
                sheet.write(block)
    return out.getvalue()


def _far_row() -> bytes:
    """Two rows of the flight, and one more at the sheet's last row (1,048,576)."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx_bytes(FLIGHT[:2])))
    book.active.cell(row=1_048_576, column=1, value="Ana")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return out.getvalue()


def _many_rows(n: int) -> list[tuple[str, ...]]:
    return [
        ("Persona", f"Número {i}", "F", "01/01/1990", "", f"G{i}", "Guatemala", "Mixco", "", "")
        for i in range(n)
    ]


BAD_FILES = {
    "wrong columns": (
        lambda: csv_bytes(headers=("Nombre completo", "Edad", "Destino", *HEADERS[5:6])),
        "lista.csv",
        "Faltan columnas de la plantilla: «Nombres», «Apellidos», «Sexo (F o M)»",
    ),
    "a column twice": (
        lambda: csv_bytes([(*row, "x") for row in FLIGHT], headers=(*HEADERS, "Nombre")),
        "lista.csv",
        "Las columnas «Nombres» y «Nombre» dicen lo mismo: deje solo una.",
    ),
    "an encoding that is neither UTF-8 nor Windows'": (
        lambda: csv_bytes().replace("María".encode(), b"Mar\x81a"),
        "lista.csv",
        "No se pudo leer el texto del archivo",
    ),
    "merged cells": (
        lambda: xlsx_bytes(merge="F2:F5"),
        "lista.xlsx",
        "La hoja tiene celdas combinadas",
    ),
    "10,000 rows (CSV)": (
        lambda: csv_bytes(_many_rows(10_000)),
        "lista.csv",
        "La lista tiene más de 1.000 filas",
    ),
    "10,000 rows (XLSX)": (
        lambda: xlsx_bytes(_many_rows(10_000), typed=False),
        "lista.xlsx",
        "La lista tiene más de 1.000 filas",
    ),
    "an XLSX bomb": (_bomb, "lista.xlsx", "El libro de Excel descomprimido ocuparía más de 40 MB"),
    "a sheet reaching its last row": (_far_row, "lista.xlsx", "La lista tiene más de 1.000 filas"),
    "an XLSX that is text": (
        csv_bytes,
        "lista.xlsx",
        "El archivo se llama .xlsx pero no es un libro de Excel",
    ),
    "a CSV that is a spreadsheet": (
        xlsx_bytes,
        "lista.csv",
        "El archivo se llama .csv pero es un libro de Excel",
    ),
    "an old .xls": (
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
        "lista.xls",
        "Suba la lista como archivo .xlsx (Excel) o .csv.",
    ),
    "an old .xls renamed .xlsx": (
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
        "lista.xlsx",
        "El archivo es de Excel 97-2003 (.xls) o está protegido con contraseña",
    ),
    "a PDF": (lambda: b"%PDF-1.7\n" + b"x" * 100, "lista.csv", "El archivo es un PDF"),
    "a Word document renamed .xlsx": (_docx, "lista.xlsx", "no un libro de Excel (.xlsx)"),
    "a broken zip": (lambda: b"PK\x03\x04" + b"\x00" * 100, "lista.xlsx", "El archivo .xlsx está dañado"),
    "an empty file": (lambda: b"", "lista.csv", "El archivo está vacío."),
    "one column only": (lambda: b"Nombres\nAna\n", "lista.csv", "No se encontraron columnas"),
    "a picture": (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "foto.png", "Suba la lista como archivo"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_gets_a_clear_message_and_changes_nothing(client, desk, case):
    _user, arrival = desk
    import_flight(client, arrival, csv_bytes(FLIGHT[:4]), "primera parte.csv")  # something there already
    make_content, name, message = BAD_FILES[case]
    before = counts()
    response = upload(client, arrival, make_content(), name)
    assert response.status_code == 400
    page = text_of(response)
    assert message in page, page[page.find("No se puede") :][:600]
    assert "No se guardó nada." in page
    db.session.expire_all()
    assert counts() == before


def test_exactly_the_row_limit_is_read(client, desk):
    _user, arrival = desk
    response = upload(client, arrival, csv_bytes(_many_rows(MAX_ROWS)), "lista.csv")
    assert response.status_code == 200
    assert "1000 filas leídas." in text_of(response) or "1.000 filas leídas." in text_of(response)


def test_the_upload_may_be_larger_than_other_requests_but_not_without_limit(client, desk):
    _user, arrival = desk
    three_mb = csv_bytes() + b"\r\n" * (3 * 2**19)
    # Blank lines are skipped: the list is read whole, above the service's 2 MB limit for other forms.
    response = upload(client, arrival, three_mb, "lista.csv")
    assert response.status_code == 200 and "11 filas leídas." in text_of(response)
    assert client.post("/cases/", data={"q": "x" * (3 * 2**20)}).status_code == 413
    assert upload(client, arrival, b"x" * (6 * 2**20), "lista.csv").status_code == 413


def test_a_list_over_the_limit_is_refused_beside_the_file_field(client, desk):
    _user, arrival = desk
    before = counts()
    response = upload(client, arrival, b"x" * (6 * 2**20), "lista.csv")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    # The arrival's page, its file field marked and the message beside it, in Spanish.
    assert 'id="passenger-file"' in html and 'aria-describedby="e-passenger-file"' in html
    message = re.search(r'<p class="error" id="e-passenger-file">([^<]*)</p>', html)
    assert message is not None
    assert message[1].startswith("El archivo pesa más de 5 MB, el máximo para una lista de pasajeros")
    db.session.expire_all()
    assert counts() == before
    # Someone who may not see this arrival gets the general answer, as before (here the arrival's 404: the
    # tests switch CSRF protection off, which would otherwise read the body first and answer 413).
    client.post("/logout")
    login(client, make_user("reception", centre="TECUN_UMAN"))
    refused = upload(client, arrival, b"x" * (6 * 2**20), "lista.csv")
    assert refused.status_code in (404, 413) and "e-passenger-file" not in refused.get_data(as_text=True)


# -- access ---------------------------------------------------------------------------------------------


def test_only_the_arrivals_centre_may_import_or_confirm(app, client):
    # Several users: no shared application context (it would keep the first one signed in).
    with app.app_context():
        fag = make_user("reception", centre="FAG")
        arrival = make_arrival(fag)
        login(client, fag)
        [family, *_] = import_flight(client, arrival, csv_bytes(FLIGHT[:4]), "parte.csv")
        token = token_of(upload(client, arrival, xlsx_bytes()))
        others = [
            (make_user(role, **where).username, role, expected)
            for role, where, expected in (
                ("reception", {"centre": "TECUN_UMAN"}, 404),
                ("sede", {"sede": "HUEHUETENANGO"}, 403),
                ("coordinator", {}, 403),
            )
        ]
        arrival_id, family_id = arrival.id, family.id
        db.session.remove()
    urls = [
        ("POST", f"/arrivals/{arrival_id}/passenger-list"),
        ("POST", f"/arrivals/{arrival_id}/passenger-list/confirm"),
        ("GET", f"/arrivals/{arrival_id}/families/{family_id}/confirm"),
        ("POST", f"/arrivals/{arrival_id}/families/{family_id}/confirm"),
    ]
    for username, role, expected in others:
        other = app.test_client()
        sign_in_as(other, username)
        for method, url in urls:
            response = other.open(url, method=method, data={"token": token})
            assert response.status_code == expected, (role, method, url)
        for template in ("csv", "xlsx"):
            assert other.get(f"/arrivals/passenger-list-template.{template}").status_code == (
                200 if role == "reception" else 403
            )
    with app.app_context():
        assert db.session.get(FamilyUnit, family_id).status == CaseStatus.PREREGISTERED
        assert db.session.scalar(select(func.count()).select_from(FamilyUnit)) == 1
        assert (
            db.session.scalars(select(PassengerList.confirmed_at).where(PassengerList.token == token)).one()
            is None
        )
        db.session.remove()


def test_a_family_of_another_arrival_is_not_confirmed_through_this_one(client, desk):
    user, arrival = desk
    [family, *_] = import_flight(client, arrival)
    other_arrival = make_arrival(user)
    assert client.get(f"/arrivals/{other_arrival.id}/families/{family.id}/confirm").status_code == 404


# -- at the desk ---------------------------------------------------------------------------------------


def test_the_desk_finds_a_preregistered_family_by_name_or_group(client, desk):
    _user, arrival = desk
    import_flight(client, arrival)
    by_group = text_of(client.post(f"/arrivals/{arrival.id}", data={"q": "fam-03"}))
    assert "Juan Ramírez Son" in by_group and "María Elena" not in by_group
    by_name = text_of(client.post(f"/arrivals/{arrival.id}", data={"q": "tzoc catarina"}))
    assert "FAM-02" in by_name and "FAM-01" not in by_name
    by_document = text_of(client.post(f"/arrivals/{arrival.id}", data={"q": "P1234567"}))
    assert "FAM-01" in by_document and "FAM-04" not in by_document
    none = text_of(client.post(f"/arrivals/{arrival.id}", data={"q": "Nadie Así"}))
    assert "Ninguna familia pre-registrada coincide con la búsqueda." in none


def _needs_and_referrals(page: str) -> tuple[dict[str, str], dict[str, str]]:
    needs = {code: i for i, code in re.findall(r'name="needs-(\d+)-need" value="(\w+)"', page)}
    referrals = {code: i for i, code in re.findall(r'name="referrals-(\d+)-institution" value="(\w+)"', page)}
    return needs, referrals


def as_posted(page: str, family: FamilyUnit) -> dict[str, str]:
    """What the browser sends back from the confirmation page left as it was shown (consent not picked)."""
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    for row, member in enumerate(family.members):
        for key, value in (
            ("given_names", member.given_names),
            ("surnames", member.surnames),
            ("sex", member.sex),
            ("relationship", member.relationship_to_head.code),
            ("birth_date", member.birth_date.strftime("%d/%m/%Y")),
            ("cui", member.cui or ""),
            ("document_type", member.document_type.code if member.document_type else ""),
            ("document_number", member.document_number or ""),
            ("languages", "ES"),
        ):
            form[f"members-{row}-{key}"] = value
    return form | {
        "destination_municipality": family.destination.label,
        "phone": family.phone or "",
        "consent_type": "",
        "consent_on": "20/11/2026",
    }


def test_a_preregistered_family_is_confirmed_and_completed_on_the_desks_one_screen(client, desk):
    _user, arrival = desk
    [family, *_] = import_flight(client, arrival)
    url = f"/arrivals/{arrival.id}/families/{family.id}/confirm"
    page = client.get(url).get_data(as_text=True)
    assert "Confirmar unidad familiar pre-registrada" in page
    assert (
        'value="María Elena"' in page
        and 'value="15/03/1992"' in page
        and 'value="Cuilco, Huehuetenango"' in page
    )
    assert f'name="version" value="{family.version}"' in page
    assert re.search(r'<option value="written"(?! selected)', page)  # consent is asked, not assumed
    needs, referrals = _needs_and_referrals(page)
    assert "SOSEP_HOGARES" in referrals  # suggested from the list's data already: a child of 3
    hogares = referrals["SOSEP_HOGARES"]
    form = as_posted(page, family) | {
        "consent_type": "written",
        f"needs-{needs['FOOD']}-need": "FOOD",
        f"needs-{needs['FOOD']}-given": "y",
        f"referrals-{hogares}-institution": "SOSEP_HOGARES",
        f"referrals-{hogares}-selected": "y",
        f"referrals-{hogares}-persons": "1",
        f"referrals-{hogares}-reason": "Niño de 3 años.",
    }
    response = client.post(url, data=form)
    assert response.status_code == 302, text_of(response)[:3000]
    assert response.location == f"/arrivals/{arrival.id}?confirmed={family.id}"
    db.session.expire_all()
    family = db.session.get(FamilyUnit, family.id)
    # Received when confirmed, then referred by the referral saved with it.
    assert family.status == CaseStatus.REFERRED and family.consent_type == "written"
    assert family.followup_due_on == dt.date(2026, 12, 5)  # 15 days after the arrival
    assert [m.given_names for m in family.members] == ["María Elena", "José Luis", "Ana Sofía", "Pedro"]
    assert db.session.scalar(select(func.count()).select_from(Member)) == 11  # the same members, edited
    assert [n.need.code for n in db.session.scalars(select(FamilyNeed))] == ["FOOD"]
    [referral] = db.session.scalars(select(Referral)).all()
    assert referral.status == "sent" and [m.given_names for m in referral.members] == ["José Luis"]
    actions = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.subject_type == "family", AuditEvent.subject_id == family.id
        )
    ).all()
    assert AuditAction.FAMILY_CONFIRM in actions and AuditAction.FAMILY_STATUS in actions
    page = text_of(client.get(response.location))
    assert f"Unidad familiar {family.case_number} confirmada con 4 integrantes." in page
    assert "3 unidades familiares pre-registradas por confirmar" in page and "1 unidad familiar " in page
    assert family.case_number in text_of(client.get("/cases/"))
    timeline = text_of(client.get(f"/cases/{family.id}"))
    assert "Unidad familiar pre-registrada desde la lista de pasajeros con 4 integrantes" in timeline
    assert "Unidad familiar pre-registrada confirmada en el escritorio" in timeline
    # Confirmed once: opening it again goes to the case.
    again = client.get(url)
    assert again.status_code == 302 and again.location == f"/cases/{family.id}"
    assert client.post(url, data=form).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Referral)) == 1


def test_a_confirmation_without_consent_saves_nothing(client, desk):
    _user, arrival = desk
    [family, *_] = import_flight(client, arrival)
    url = f"/arrivals/{arrival.id}/families/{family.id}/confirm"
    response = client.post(url, data=as_posted(client.get(url).get_data(as_text=True), family))
    assert response.status_code == 400
    page = text_of(response)
    assert "Consentimiento para el tratamiento de datos: este campo es obligatorio." in page
    assert "1 campo por corregir" in page  # the rest came from the list, as it was
    db.session.expire_all()
    assert db.session.get(FamilyUnit, family.id).status == CaseStatus.PREREGISTERED
    assert db.session.get(FamilyUnit, family.id).consent_type is None


def test_the_returnee_hint_offers_a_preregistered_record_but_not_the_member_being_confirmed(client, desk):
    _user, arrival = desk
    [family, *_] = import_flight(client, arrival)
    mother = family.members[0]
    url = f"/arrivals/{arrival.id}/families/earlier-records"
    typed = {
        "row": "0",
        "members-0-given_names": "María Elena",
        "members-0-surnames": "López Pérez",
        "members-0-relationship": "HEAD",
        "members-0-cui": "2456789051304",
    }
    # A walk-in registration of the same person: the pre-registered record is offered.
    assert family.case_number in client.post(url, data=typed).get_data(as_text=True)
    # Confirming that family: the member is not an earlier record of herself.
    confirming = client.post(url, data=typed | {"members-0-id": str(mother.id)})
    assert family.case_number not in confirming.get_data(as_text=True)


def test_the_case_page_of_a_preregistered_family_says_so_and_leads_to_the_desk(client, desk):
    _user, arrival = desk
    [family, *_] = import_flight(client, arrival)
    page = client.get(f"/cases/{family.id}")
    assert page.status_code == 200
    text = text_of(page)
    assert "Pre-registrada (lista de pasajeros)" in text
    assert "Pre-registrada desde la lista de pasajeros (grupo FAM-01)" in text
    assert "Pendiente (se pregunta en el escritorio)" in text
    assert f"/arrivals/{arrival.id}/families/{family.id}/confirm" in page.get_data(as_text=True)


def test_the_preview_points_out_persons_received_before_anywhere_in_the_country(client, desk):
    """Issue #12, item 3 (detection when importing): a listed person already received at another centre
    is pointed out in the preview, with only the minimum of the other centre's case."""
    _user, arrival = desk
    tecun_desk = make_user("reception", centre="TECUN_UMAN")
    earlier = make_family(
        tecun_desk,
        make_arrival(tecun_desk, centre="TECUN_UMAN", mode="land", country="MX"),
        municipality=1217,
        members=[member_row("Maria Elena", "Perez Lopez", birth_date="1992-03-15", age=None)],
    )
    page = text_of(upload(client, arrival, csv_bytes(), "vuelo.csv"))
    assert "¿Recibido(a) antes?" in page
    assert earlier.case_number in page and "Otro ámbito" in page
    assert f"/cases/{earlier.id}" not in page  # out of scope: no link, no names of the other case
    assert page.count("¿Recibido(a) antes?") == 1
