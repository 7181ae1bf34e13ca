"""Load test users (locust, headless): a realistic mix of the three kinds of staff at work.

Driven by ``bench/loadtest.py``, which starts the server and gives the inputs in ``BENCH_INPUTS``
(a JSON file of names, CUIs and family ids drawn from the benchmark database). Each simulated user
logs in once with the real form (CSRF included) and then works without pause: the test measures
how many requests a second the server holds, not a person's pace.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import uuid
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from locust import FastHttpUser, between, task

INPUTS = json.loads(open(os.environ["BENCH_INPUTS"], encoding="utf-8").read())  # noqa: SIM115
PASSWORD = INPUTS["password"]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REFERRAL = re.compile(r"/referrals/(\d+)")
#: The desk checks dates against Guatemala's calendar: after 18:00 there the UTC date is already tomorrow.
GUATEMALA = ZoneInfo("America/Guatemala")


class Staff(FastHttpUser):
    abstract = True
    wait_time = between(0, 0.01)
    username = ""

    def on_start(self) -> None:
        self.rng = random.Random()
        page = self.client.get("/login", name="/login").text
        self.csrf = CSRF.search(page).group(1)
        with self.client.post(
            "/login",
            data={"username": self.username, "password": PASSWORD, "csrf_token": self.csrf},
            allow_redirects=False,
            catch_response=True,
            name="/login",
        ) as response:
            if response.status_code != 302:
                response.failure(f"login answered {response.status_code}")
        self.csrf = CSRF.search(self.client.get("/cases/", name="/cases/ (list)").text).group(1)

    def post(self, url: str, data: dict, name: str, **kwargs):
        # Encoded here: a list (several members ticked) must go as repeated fields, as a browser sends it.
        body = urlencode({**data, "csrf_token": self.csrf}, doseq=True)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.client.post(url, data=body, headers=headers, name=name, **kwargs)

    def search(self, q: str) -> None:
        self.post("/cases/", {"q": q}, name="/cases/ (search)")

    def open_case(self, family_id: int) -> None:
        self.client.get(f"/cases/{family_id}", name="/cases/<id>")


class Coordinator(Staff):
    """Central office: looks families up and reads their cases."""

    weight = 2
    username = "bench-coord"

    @task(4)
    def search_name(self) -> None:
        self.search(self.rng.choice(INPUTS["names"]))

    @task(1)
    def search_cui(self) -> None:
        self.search(self.rng.choice(INPUTS["cuis"]))

    @task(5)
    def case(self) -> None:
        self.open_case(self.rng.choice(INPUTS["family_ids"]))

    @task(2)
    def case_list(self) -> None:
        self.client.get(f"/cases/?page={self.rng.randint(1, 5)}", name="/cases/ (list)")


class Sede(Staff):
    """A departmental office: its territory's list, a search, a case."""

    weight = 1
    username = "bench-huehue"

    @task(2)
    def case_list(self) -> None:
        self.client.get("/cases/", name="/cases/ (list)")

    @task(2)
    def search_name(self) -> None:
        self.search(self.rng.choice(INPUTS["sede_names"]))

    @task(4)
    def case(self) -> None:
        self.open_case(self.rng.choice(INPUTS["sede_family_ids"]))


class Reception(Staff):
    """The desk: register a family, open its case, refer it to OIM, print the slip (now and then)."""

    weight = 1
    username = "bench-fag"

    @task(3)
    def search_name(self) -> None:
        self.search(self.rng.choice(INPUTS["fag_names"]))

    @task(4)
    def case(self) -> None:
        self.open_case(self.rng.choice(INPUTS["fag_family_ids"]))

    @task(1)
    def register_refer_print(self) -> None:
        form_url = INPUTS["form_url"]
        self.client.get(form_url, name="/arrivals/<id>/families/new")
        family = {
            "destination_municipality": "Cuilco, Huehuetenango",
            "consent_type": "written",
            "consent_on": dt.datetime.now(GUATEMALA).date().isoformat(),
            "submission_token": uuid.uuid4().hex,
            "members-0-given_names": "Rosa",
            "members-0-surnames": "Tzoc Pérez",
            "members-0-sex": "F",
            "members-0-relationship": "HEAD",
            "members-0-estimated_age": "34",
            "members-1-given_names": "Juan",
            "members-1-surnames": "Méndez Tzoc",
            "members-1-sex": "M",
            "members-1-relationship": "SON",
            "members-1-estimated_age": "9",
        }
        response = self.post(form_url, family, "/arrivals/<id>/families/new (POST)", allow_redirects=False)
        location = response.headers.get("Location", "")
        match = re.search(r"saved=(\d+)", location)
        if not match:
            return
        family_id = int(match.group(1))
        page = self.client.get(f"/cases/{family_id}", name="/cases/<id>").text
        members = re.findall(r'name="member_ids" value="(\d+)"', page)
        if not members:
            form = self.client.get(
                f"/cases/{family_id}/referrals/new?institution=OIM", name="/cases/<id>/referrals/new"
            ).text
            members = re.findall(r'name="member_ids" value="(\d+)"', form)
        response = self.post(
            f"/cases/{family_id}/referrals/new",
            {
                "institution": "OIM",
                "member_ids": members[:2],
                "reason": "Reintegración y protección",
                "priority": "normal",
                "send": "1",
                "submission_token": uuid.uuid4().hex,
            },
            "/cases/<id>/referrals/new (POST)",
            allow_redirects=False,
        )
        referral = REFERRAL.search(response.headers.get("Location", ""))
        # A slip is printed for about one referral in three in this mix (the others go in the batch PDF).
        if referral and self.rng.random() < 0.35:
            self.client.get(f"/referrals/{referral.group(1)}/slip.pdf", name="/referrals/<id>/slip.pdf")
