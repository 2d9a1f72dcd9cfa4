"""Two Tambo nodes on loopback, each its own agency with its own database and keys: MTC's
node obtains evidence from MDSI's node over HTTP, with signed request and signed answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parent.parent
TAMBO = Path(sys.executable).parent / "tambo"
GUNICORN = Path(sys.executable).parent / "gunicorn"

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="the nodes use their own SQLite databases: run once, in the SQLite pass",
)

MAKE_LICENCE = """
from django.utils import timezone
from tambo.cases import actions
from tambo.cases.models import Filing
from tambo.catalog.queries import get_procedure
from tambo.demo.samples import file_fields, sample_answers
from tambo.identity.models import User
holder = User.objects.create(username="bodega", document_type="dni", document_number="40111222")
proc = get_procedure("MDSI", "LF-RIESGO-BAJO")
draft = actions.start_draft(holder, proc.current_version)
actions.save_answers(holder, draft.pk, sample_answers(proc.current_version.file))
for field in file_fields(proc.current_version.file):
    actions.attach_document(holder, draft.pk, field.name, open(PDF, "rb"), "licencia.pdf")
filing = actions.submit_draft(holder, draft.pk).filing
Filing.objects.filter(pk=filing.pk).update(status="approved", decided_at=timezone.now())
print(filing.number)
"""

OBTAIN = """
import json
from tambo.exchange.client import Purpose, obtain
from tambo.exchange.models import ExchangeLog
got = obtain("MTC", "licencias-funcionamiento", "1",
             {"document_type": "dni", "document_number": "40111222"},
             Purpose("MTC-2026-0000007", "RADIOAFICIONADO", "TUO de la Ley 27444, art. 48"))
log = ExchangeLog.objects.get(request_id=got.request_id)
print(json.dumps({"data": got.data, "request_id": got.request_id, "outcome": log.outcome,
                  "signed_answer": "signature" in log.answer_headers}))
"""

COUNT_SERVED = """
from tambo.exchange.models import ExchangeLog
print(ExchangeLog.objects.filter(direction="in", outcome="ok", consumer="MTC").count())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, root: Path, agency: str, agencies_file: Path) -> None:
        self.root, self.agency, self.port = root, agency, free_port()
        root.mkdir()
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TAMBO_", "DATABASE_URL"))
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="tambo.settings.dev",
            DATABASE_URL=f"sqlite:///{root / 'tambo.sqlite3'}",
            TAMBO_VAR_DIR=str(root),
            TAMBO_SIGNING_KEYS_DIR=str(root / "keys"),
            TAMBO_EXCHANGE_AGENCIES=str(agencies_file),
            TAMBO_ALLOWED_HOSTS="127.0.0.1,localhost",
            TAMBO_DEBUG="0",
        )
        self.server: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tambo(self, *args: str) -> str:
        done = subprocess.run(
            [str(TAMBO), *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def prepare(self) -> None:
        self.tambo("migrate", "--noinput", "-v", "0")
        self.tambo("catalog", "load", str(REPO / "catalog"))
        self.tambo("exchange", "keys", self.agency, "--node", self.url)

    def start(self) -> None:
        self.server = subprocess.Popen(
            [str(GUNICORN), "tambo.wsgi", "-w", "1", "-b", f"127.0.0.1:{self.port}"],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/x/v1/registry", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"node {self.agency} did not start")

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(20)


def test_one_node_obtains_evidence_from_another_over_signed_http(tmp_path):
    agencies = tmp_path / "agencies.yaml"  # the registry's agencies file, shared by both
    municipality = Node(tmp_path / "mdsi", "MDSI", agencies)
    ministry = Node(tmp_path / "mtc", "MTC", agencies)
    pdf = tmp_path / "licencia.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    try:
        for node in (municipality, ministry):
            node.prepare()
        made = municipality.tambo("shell", "-c", f"PDF = {str(pdf)!r}\n" + MAKE_LICENCE)
        number = made.strip().splitlines()[-1]
        for node in (municipality, ministry):
            node.start()
        # Each node holds only its own agency's private key.
        assert (municipality.root / "keys" / "exchange" / "MDSI.pem").exists()
        assert not (municipality.root / "keys" / "exchange" / "MTC.pem").exists()
        assert not (ministry.root / "keys" / "exchange" / "MDSI.pem").exists()

        result = json.loads(ministry.tambo("shell", "-c", OBTAIN).strip().splitlines()[-1])
        assert [x["number"] for x in result["data"]["licences"]] == [number]
        assert result["outcome"] == "ok" and result["signed_answer"]
        # The provider's own database logged the exchange it served.
        assert municipality.tambo("shell", "-c", COUNT_SERVED).strip().splitlines()[-1] == "1"
    finally:
        for node in (municipality, ministry):
            node.stop()
