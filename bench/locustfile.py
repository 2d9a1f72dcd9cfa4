"""The load mix for `bench/bench_load.py`: citizens and officials as they use Tambo.

Run by bench_load.py (``locust -f bench/locustfile.py --headless ...``) against a gunicorn
started on a bench database; the data it needs (tokens, real expediente numbers with their
access codes, forms) is in the JSON file named by ``TAMBO_LOAD_DATA``.

The mix, per simulated person (think time between actions):

- Citizens (most users): open the home page, search the catalogue, read procedure pages,
  look up an expediente by number and access code (1 in 10 with a wrong code), file a
  procedure through the API, file one with an upload (draft, answers, PDF, submit), list
  their expedientes, send an invalid form (expected 422) and try wrong passwords on the
  login page (expected: the form again with an error).
- Officials: read their queues, open a case, admit cases at the front desk and move them
  through evaluation, and decide some.

Expected refusals (422, the login error, 404 for a wrong access code, 409 when another
official took the case first) count as successes only when they are the expected answer;
anything else, including every 5xx, is a failure.
"""

from __future__ import annotations

import json
import os
import random
import re
import uuid
from typing import Any

from locust import HttpUser, between, task

DATA: dict[str, Any] = json.loads(open(os.environ["TAMBO_LOAD_DATA"], encoding="utf-8").read())  # noqa: SIM115
SEARCHES = ["licencia", "certificado", "informacion publica", "autorizacion", "constancia"]
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def _expect(response: Any, *statuses: int) -> None:
    if response.status_code in statuses:
        response.success()
    else:
        response.failure(f"{response.status_code}: {response.text[:200]}")


class Citizen(HttpUser):
    """A citizen browsing, searching, filing and following their expedientes."""

    weight = 9
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.token = random.choice(DATA["tokens"])
        self.auth = {"Authorization": f"Bearer {self.token}"}

    @task(4)
    def home(self) -> None:
        self.client.get("/", name="page: home")

    @task(4)
    def search(self) -> None:
        self.client.get("/tramites/", params={"q": random.choice(SEARCHES)}, name="page: search")

    @task(3)
    def procedure_page(self) -> None:
        self.client.get(random.choice(DATA["procedure_pages"]), name="page: procedure")

    @task(2)
    def status_lookup(self) -> None:
        number, code = random.choice(DATA["lookups"])
        wrong = random.random() < 0.1
        body = {"number": number, "access_code": "ZZZZZZZZ" if wrong else code}
        with self.client.post(
            "/api/v1/status", json=body, name="api: status", catch_response=True
        ) as response:
            _expect(response, 404 if wrong else 200)

    @task(2)
    def file_directly(self) -> None:
        with self.client.post(
            "/api/v1/filings",
            json=DATA["filing_body"],
            headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
            name="api: file",
            catch_response=True,
        ) as response:
            _expect(response, 201)

    @task(1)
    def file_with_upload(self) -> None:
        proc = DATA["upload_procedure"]
        started = self.client.post(
            "/api/v1/drafts",
            json={"agency": proc["agency"], "procedure": proc["procedure"]},
            headers=self.auth,
            name="api: draft start",
        )
        if started.status_code != 201:
            return
        draft = started.json()["id"]
        self.client.patch(
            f"/api/v1/drafts/{draft}",
            json={"answers": proc["answers"]},
            headers=self.auth,
            name="api: draft answers",
        )
        for field in proc["file_fields"]:
            self.client.post(
                f"/api/v1/drafts/{draft}/documents/{field}",
                files={"file": ("documento.pdf", PDF, "application/pdf")},
                headers=self.auth,
                name="api: upload",
            )
        with self.client.post(
            f"/api/v1/drafts/{draft}/submit",
            headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
            name="api: submit draft",
            catch_response=True,
        ) as response:
            _expect(response, 201)

    @task(2)
    def my_filings(self) -> None:
        self.client.get("/api/v1/filings", headers=self.auth, name="api: my filings")

    @task(1)
    def invalid_form(self) -> None:
        body = {**DATA["filing_body"], "answers": {}}
        with self.client.post(
            "/api/v1/filings",
            json=body,
            headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
            name="api: file (invalid form)",
            catch_response=True,
        ) as response:
            _expect(response, 422)

    @task(1)
    def wrong_password(self) -> None:
        page = self.client.get("/ingresar/", name="page: login")
        match = CSRF.search(page.content)
        if match is None:
            return
        with self.client.post(
            "/ingresar/",
            data={
                "csrfmiddlewaretoken": match.group(1).decode(),
                "username": f"nadie-{random.randrange(10**6)}",
                "password": "contraseña-equivocada",
            },
            headers={"Referer": f"{self.host}/ingresar/"},
            name="page: login (wrong password)",
            catch_response=True,
        ) as response:
            _expect(response, 200, 429)  # the form again with its error, or rate-limited


class Official(HttpUser):
    """An official of the unit working the queue: admit, propose, approve (signed resolution)."""

    weight = 1
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.official = random.choice(DATA["officials"])
        self.auth = {"Authorization": f"Bearer {self.official['token']}"}
        self.queue = f"/api/v1/office/queues/{DATA['unit_id']}/{self.official['role']}"

    @task(3)
    def queues(self) -> None:
        self.client.get("/api/v1/office/queues", headers=self.auth, name="api: office queues")

    @task(5)
    def work_a_case(self) -> None:
        page = self.client.get(self.queue, headers=self.auth, name="api: office queue page")
        if page.status_code != 200 or not page.json()["items"]:
            return
        item = random.choice(page.json()["items"][:10])
        number = item["number"]
        detail = self.client.get(
            f"/api/v1/office/filings/{number}", headers=self.auth, name="api: office case"
        )
        if detail.status_code != 200:
            return
        step = {"front_desk": "admit", "evaluator": "propose", "signer": "approve"}.get(
            self.official["role"]
        )
        available = {a["id"] for a in detail.json()["available"]}
        if step is None or step not in available:
            return
        with self.client.post(
            f"/api/v1/filings/{number}/transitions/{step}",
            json={
                "reason": "Conforme.",
                # The evaluator's proposal carries the report the workflow requires.
                "report": "Informe técnico: cumple los requisitos del TUPA."
                if step == "propose"
                else "",
                "expected_version": item["lock_version"],
            },
            headers=self.auth,
            name=f"api: transition {step}",
            catch_response=True,
        ) as response:
            # 409: another official moved the case first (optimistic lock), as expected.
            _expect(response, 200, 409)
