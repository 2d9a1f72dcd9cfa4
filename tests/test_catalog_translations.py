"""Procedure texts in Quechua: every demo procedure has them, marked machine-made until reviewed.

The catalogue files say which languages still wait for a native speaker with
``review_pending: [qu]``; the loader warns about them (never an error) with the file and line.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tambo.catalog.loader import CatalogError, load_directory
from tambo.catalog.schema import ProcedureFile
from tambo.catalog.texts import localize
from tests.conftest import REPO, procedure

SOURCE = REPO / "catalog"
PROCEDURE_FILES = sorted((SOURCE / "procedures").rglob("*.yaml"))
PROC = SOURCE / "procedures" / "MDSI" / "CERTIFICADO-DOMICILIARIO.yaml"


CITIZEN_KEYS = {"summary", "audience", "note", "notes", "label", "help", "consent"}


def citizen_texts(node: object, path: str = "") -> list[tuple[str, object]]:
    """(path, text) of every text a citizen reads: a mapping with 'es', or a plain string."""
    if isinstance(node, dict):
        if "es" in node:
            return [(path, node)]
        found: list[tuple[str, object]] = []
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            # 'name' is a text for the procedure and its requirements, an identifier for fields.
            is_text = key in CITIZEN_KEYS or (key == "name" and not path.startswith("form"))
            if is_text and isinstance(value, str):
                found.append((where, value))
            else:
                found += citizen_texts(value, where)
        return found
    if isinstance(node, list):
        return [t for i, value in enumerate(node) for t in citizen_texts(value, f"{path}.{i}")]
    if path.startswith("steps.") and isinstance(node, str):
        return [(path, node)]
    return []


def without_language(node: object, lang: str) -> object:
    if isinstance(node, dict):
        return {k: without_language(v, lang) for k, v in node.items() if k != lang}
    if isinstance(node, list):
        return [without_language(v, lang) for v in node]
    return node


@pytest.fixture
def catdir(tmp_path: Path, db) -> Path:
    (tmp_path / "agencies").mkdir()
    (tmp_path / "procedures" / "MDSI").mkdir(parents=True)
    shutil.copy(SOURCE / "agencies" / "MDSI.yaml", tmp_path / "agencies" / "MDSI.yaml")
    shutil.copy(PROC, tmp_path / "procedures" / "MDSI" / PROC.name)
    return tmp_path


@pytest.mark.parametrize("path", PROCEDURE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_citizen_text_of_a_demo_procedure_has_quechua_pending_review(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    texts = citizen_texts(data)
    assert len(texts) > 10
    untranslated = [
        where
        for where, text in texts
        if not (isinstance(text, dict) and text.get("qu") and text.get("en"))
        # Operators' names (Movistar, Claro...) are the same in every language.
        and not (path.stem == "RECLAMO-APELACION" and where.startswith("form.0.choices"))
    ]
    assert untranslated == []
    spec = ProcedureFile.model_validate(data)
    assert spec.review_pending == ["qu"], "machine-made Quechua must be marked for review"
    assert spec.texts_in("qu") == len(texts) - (4 if path.stem == "RECLAMO-APELACION" else 0)


def test_the_loader_warns_about_texts_pending_review_with_their_line(catdir):
    path = catdir / "procedures" / "MDSI" / PROC.name
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("review_pending:"))
    expected_count = ProcedureFile.model_validate(
        yaml.safe_load(path.read_text(encoding="utf-8"))
    ).texts_in("qu")
    report = load_directory(catdir)
    assert report.versions_created == 1  # a warning, never an error
    assert (
        f"{path}:{line}: {expected_count} 'qu' texts are machine-made, pending review by a "
        "native speaker (review_pending)"
    ) in [str(w) for w in report.warnings]
    # Loading the same files again publishes nothing and says nothing.
    again = load_directory(catdir)
    assert (again.versions_created, again.unchanged, again.warnings) == (0, 1, [])


def test_a_native_speakers_review_is_a_new_version_without_the_warning(catdir):
    path = catdir / "procedures" / "MDSI" / PROC.name
    load_directory(catdir)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("review_pending: [qu]\n", ""), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("catalog", "load", str(catdir), stdout=out, stderr=err)
    assert "1 new versions" in out.getvalue()
    assert "pending review" not in err.getvalue()
    assert procedure("CERTIFICADO-DOMICILIARIO", "MDSI").current_version.number == 2


def test_review_pending_for_a_language_with_no_text_is_an_error(catdir):
    path = catdir / "procedures" / "MDSI" / PROC.name
    data = without_language(yaml.safe_load(path.read_text(encoding="utf-8")), "en")
    data["review_pending"] = ["en"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(CatalogError) as error:
        load_directory(catdir)
    assert "review_pending: no text of this file has a 'en' version" in str(error.value)


def test_a_quechua_procedure_page_shows_the_quechua_texts(catalog, web):
    proc = procedure("CERTIFICADO-DOMICILIARIO", "MDSI")
    spec = proc.current_version.file
    browser = Client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "qu"
    page = browser.get(reverse("catalog:procedure", args=["MDSI", proc.code])).content.decode()
    for text in (spec.name, spec.summary, spec.audience, spec.steps[0]):
        assert localize(text, "qu") in page.replace("&#x27;", "'")
    assert localize(spec.name, "es") not in page
    assert localize(spec.requirements[1].name, "qu") in page.replace("&#x27;", "'")


def test_the_filing_form_in_quechua_shows_quechua_labels_help_and_choices(catalog, web):
    proc = procedure("CERTIFICADO-DOMICILIARIO", "MDSI")
    spec = proc.current_version.file
    web.cookies[settings.LANGUAGE_COOKIE_NAME] = "qu"
    response = web.post(reverse("cases:start", args=["MDSI", proc.code]))
    assert response.status_code == 302
    html = web.get(response["Location"]).content.decode().replace("&#x27;", "'")
    assert '<html lang="qu">' in html
    choice = next(f for f in spec.form if f.type == "choice")
    for text in (choice.label, choice.choices[0].label, spec.form[0].label):
        assert localize(text, "qu") in html
        assert localize(text, "es") not in html
    assert "Qatiy" in html  # the "Continuar" button, from the gettext catalogue
