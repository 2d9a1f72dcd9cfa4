"""Issue 6, part 6: procedure pages in a fixed order; length and reading-level warnings."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from tambo.catalog import readability
from tambo.catalog.loader import load_directory
from tambo.catalog.models import Procedure
from tests.conftest import REPO

pytestmark = pytest.mark.django_db
SOURCE = REPO / "catalog"
HARD = (
    "La administración municipal correspondiente verificará exhaustivamente la documentación "
    "presentada, considerando específicamente las disposiciones reglamentarias aplicables "
    "establecidas mediante ordenanzas municipales extraordinariamente complejas."
)


@pytest.fixture
def catdir(tmp_path: Path) -> Path:
    (tmp_path / "agencies").mkdir()
    (tmp_path / "procedures" / "MDSI").mkdir(parents=True)
    shutil.copy(SOURCE / "agencies" / "MDSI.yaml", tmp_path / "agencies" / "MDSI.yaml")
    shutil.copy(
        SOURCE / "procedures" / "MDSI" / "ACCESO-INFORMACION.yaml",
        tmp_path / "procedures" / "MDSI" / "ACCESO-INFORMACION.yaml",
    )
    return tmp_path


def test_the_procedure_page_says_who_what_cost_time_and_how_in_that_order(catalog):
    proc = Procedure.objects.get(agency__code="MDSI", code="CERTIFICADO-DOMICILIARIO")
    page = Client().get(f"/tramites/MDSI/{proc.code}/").content.decode()
    headings = re.findall(r'<h2 class="heading-l">(.*?)</h2>', page)
    assert headings[:5] == [
        "Para quién es",
        "Qué necesita",
        "Cuánto cuesta",
        "Cuánto demora",
        "Cómo hacerlo",
    ]


def test_the_reading_level_tells_plain_from_hard_spanish():
    plain = "Pide tu certificado en la web. Es fácil. Lo recibes en tres días. No pagas nada más."
    assert readability.szigriszt_pazos(plain) > 65
    assert readability.szigriszt_pazos(HARD) < readability.HARD_BELOW
    assert readability.szigriszt_pazos("Muy corto.") is None
    assert [readability.syllables(w) for w in ("país", "poeta", "ley", "trámite")] == [2, 3, 1, 3]


def test_hard_and_long_texts_are_warnings_with_their_line_not_errors(catdir):
    path = catdir / "procedures" / "MDSI" / "ACCESO-INFORMACION.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["audience"] = {"es": HARD}
    data["steps"] = [*data["steps"], "Espere. " + " ".join(["palabra"] * 35) + "."]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    audience_line = next(i for i, line in enumerate(lines, 1) if line.startswith("audience:"))
    report = load_directory(catdir)
    assert report.versions_created == 1  # loaded all the same
    messages = [str(w) for w in report.warnings]
    assert any(
        m.startswith(f"{path}:{audience_line}: audience is hard to read") for m in messages
    ), messages
    assert any("has a sentence of 35 words" in m for m in messages), messages
    out, err = io.StringIO(), io.StringIO()
    data["term_days"] = data["term_days"] + 1  # a new version, so the warnings show again
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    call_command("catalog", "load", str(catdir), stdout=out, stderr=err)
    assert f"warning: {path}:{audience_line}: audience is hard to read" in err.getvalue()
    assert "1 new versions" in out.getvalue()
