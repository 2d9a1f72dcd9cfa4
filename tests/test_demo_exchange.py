"""`tambo demo` sets up the exchange on one node hosting every demo agency (issue 5): keys,
the agencies file, and a RADIOAFICIONADO filing whose licence MTC obtains from MDSI."""

from __future__ import annotations

import io

import yaml
from django.core.management import call_command

from tambo.cases import actions
from tambo.cases.models import Filing, ObtainedEvidence
from tambo.cases.tasks import fetch_evidence_task
from tambo.catalog.models import Procedure
from tambo.exchange import keys
from tambo.identity.models import User

from .test_evidence_followup import run_tasks


def test_after_tambo_demo_a_radioaficionado_filing_gets_its_licence(
    settings, tmp_path, live_server, transactional_db
):
    settings.TAMBO_EXCHANGE_AGENCIES = tmp_path / "exchange" / "agencies.yaml"
    call_command("demo", "--node", live_server.url, stdout=io.StringIO())

    listed = yaml.safe_load(settings.TAMBO_EXCHANGE_AGENCIES.read_text())["agencies"]
    assert {a["code"] for a in listed} == {"MDSI", "MTC", "OSIPTEL"}
    assert {a["node"] for a in listed} == {live_server.url}
    for code in ("MDSI", "MTC", "OSIPTEL"):
        assert keys.key_path(code).is_relative_to(settings.TAMBO_SIGNING_KEYS)
        assert keys.hosts(code)
    before = settings.TAMBO_EXCHANGE_AGENCIES.read_text()
    call_command("demo", "--node", live_server.url, stdout=io.StringIO())
    assert settings.TAMBO_EXCHANGE_AGENCIES.read_text() == before  # idempotent: same keys

    # The demo's own RADIOAFICIONADO case, then a new one by the same citizen.
    ana = User.objects.get(username="ana")
    radio = Procedure.objects.get(agency__code="MTC", code="RADIOAFICIONADO")
    draft = actions.start_draft(ana, radio.current_version)
    demo_filing = Filing.objects.get(citizen=ana, procedure_version__procedure=radio)
    actions.save_answers(ana, draft.pk, demo_filing.answers)
    actions.attach_document(
        ana, draft.pk, "constancia_examen", io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "examen.pdf"
    )
    new_filing = actions.submit_draft(ana, draft.pk, data_consent=True).filing

    run_tasks(fetch_evidence_task.module_path)
    for filing in (demo_filing, new_filing):
        row = ObtainedEvidence.objects.get(filing=filing)
        assert (row.status, row.provider) == ("obtained", "MDSI"), row.last_error
        licences = row.data["licences"]
        assert licences and licences[0]["procedure"] == "LF-RIESGO-BAJO"
