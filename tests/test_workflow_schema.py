"""Workflows declared in procedure files: the default one is consistent; broken ones are refused."""

from __future__ import annotations

import copy

import pytest
import yaml
from pydantic import ValidationError

from tambo.catalog.workflow import DEFAULT_WORKFLOW_PATH, Workflow, default_workflow


def base() -> dict:
    return yaml.safe_load(DEFAULT_WORKFLOW_PATH.read_text())


def refused(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        Workflow.model_validate(data)
    return str(info.value)


def test_the_default_workflow_covers_the_common_tupa_path():
    wf = default_workflow()
    ids = {s.id for s in wf.states}
    assert {
        "received",
        "observed",
        "not_filed",
        "in_evaluation",
        "report_requested",
        "approved",
        "denied",
        "approved_by_silence",
        "appealed",
        "withdrawn",
        "closed",
    } <= ids
    assert [t.id for t in wf.available("received", "front_desk")] == ["admit", "observe"]
    assert [t.id for t in wf.available("observed", "citizen")] == ["correct", "withdraw"]
    assert {t.id for t in wf.available("denied", "citizen")} == {"appeal"}
    assert {t.id for t in wf.triggered("positive_silence")} == {"silence_approve"}
    for state in wf.states:
        if state.decision:
            assert state.document, state.id


def test_an_unknown_state_in_a_transition_is_refused():
    data = base()
    data["transitions"][0]["to"] = "limbo"
    assert "unknown state 'limbo'" in refused(data)


def test_an_unknown_role_is_refused():
    data = base()
    data["transitions"][0]["by"] = ["janitor"]
    assert "janitor" in refused(data)


def test_an_unreachable_state_is_refused():
    data = base()
    data["states"].append({"id": "orphan", "label": "Huérfano"})
    assert "'orphan' cannot be reached" in refused(data)


def test_a_decision_state_without_a_document_is_refused():
    data = base()
    for state in data["states"]:
        if state["id"] == "approved":
            del state["document"]
    assert "decision state 'approved' has no document" in refused(data)


def test_a_triggered_transition_must_be_taken_by_the_system():
    data = base()
    for t in data["transitions"]:
        if t["id"] == "silence_approve":
            t["by"] = ["signer"]
    assert "taken by system" in refused(data)


def test_a_procedure_file_with_a_broken_workflow_is_rejected_with_the_file_and_reason(
    tmp_path, settings, db
):
    from tambo.catalog.loader import CatalogError, load_directory

    source = settings.TAMBO_CATALOG_DIR
    (tmp_path / "agencies").mkdir()
    (tmp_path / "agencies" / "MDSI.yaml").write_text(
        (source / "agencies" / "MDSI.yaml").read_text()
    )
    proc_text = (source / "procedures" / "MDSI" / "ACCESO-INFORMACION.yaml").read_text()
    workflow = copy.deepcopy(base())
    workflow["transitions"][0]["to"] = "limbo"
    path = tmp_path / "ACCESO-INFORMACION.yaml"
    path.write_text(proc_text + "\n" + yaml.safe_dump({"workflow": workflow}, allow_unicode=True))
    with pytest.raises(CatalogError) as info:
        load_directory(tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert "unknown state 'limbo'" in message
