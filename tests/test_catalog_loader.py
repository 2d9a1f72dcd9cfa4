"""Loading catalogue YAML (tambo.catalog.loader), ``tambo catalog load`` and procedure search."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from tambo.cases.actions import file_directly
from tambo.catalog.loader import CatalogError, load_directory
from tambo.catalog.models import Agency, AgencyClosure, Procedure, ProcedureVersion
from tambo.catalog.queries import search_procedures
from tambo.catalog.texts import fold
from tambo.core import clock
from tambo.core.models import AuditEntry
from tests.conftest import REPO, answers_for

SOURCE = REPO / "catalog"
PROC_NAME = "ACCESO-INFORMACION"


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def catdir(tmp_path: Path) -> Path:
    """A catalogue with the MDSI agency and one of its procedures (no required file field)."""
    (tmp_path / "agencies").mkdir()
    (tmp_path / "procedures" / "MDSI").mkdir(parents=True)
    shutil.copy(SOURCE / "agencies" / "MDSI.yaml", tmp_path / "agencies" / "MDSI.yaml")
    shutil.copy(
        SOURCE / "procedures" / "MDSI" / f"{PROC_NAME}.yaml",
        tmp_path / "procedures" / "MDSI" / f"{PROC_NAME}.yaml",
    )
    return tmp_path


def proc_path(catdir: Path) -> Path:
    return catdir / "procedures" / "MDSI" / f"{PROC_NAME}.yaml"


def line_of(path: Path, text: str, start: int = 1) -> int:
    """1-based number of the first line (from ``start``) that equals ``text`` once stripped."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if number >= start and line.strip() == text:
            return number
    raise AssertionError(f"{text!r} not found in {path}")


def replace_line(path: Path, number: int, new: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    indent = lines[number - 1][: len(lines[number - 1]) - len(lines[number - 1].lstrip())]
    lines[number - 1] = f"{indent}{new}\n"
    path.write_text("".join(lines), encoding="utf-8")


def load_error(directory: Path) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        load_directory(directory)
    return info.value


# --- loading -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_load_directory_loads_agency_and_procedure(catdir):
    report = load_directory(catdir)
    assert report.agencies_created == 1
    assert report.versions_created == 1
    agency = Agency.objects.get(code="MDSI")
    assert agency.name == "Municipalidad Distrital de San Isidro"
    assert agency.ruc == "20131377224"
    assert set(agency.units.values_list("code", flat=True)) >= {"MP", "SG", "GDU"}
    assert set(AgencyClosure.objects.filter(agency=agency).values_list("date", flat=True)) == {
        dt.date(2026, 4, 24),
        dt.date(2026, 11, 5),
        dt.date(2027, 11, 5),
    }
    procedure = Procedure.objects.get(agency=agency, code=PROC_NAME)
    assert procedure.current_version.number == 1
    assert procedure.current_version.term_days == 10
    assert procedure.current_version.approval == "negative_silence"
    assert procedure.name.startswith("Solicitar acceso a la información pública")
    assert list(procedure.topics.values_list("slug", flat=True)) == ["transparencia"]


@pytest.mark.django_db
def test_reloading_unchanged_files_creates_no_version_and_no_audit_entry(catdir):
    load_directory(catdir)
    versions = ProcedureVersion.objects.count()
    audits = AuditEntry.objects.count()
    assert versions == 1
    assert audits >= 2  # agency published + procedure version published

    report = load_directory(catdir)

    assert ProcedureVersion.objects.count() == versions
    assert AuditEntry.objects.count() == audits
    assert report.versions_created == 0
    assert report.unchanged == 1
    assert report.agencies_created == 0
    assert report.agencies_updated == 0


@pytest.mark.django_db
def test_changing_term_days_creates_version_2_and_keeps_version_1(catdir, citizen):
    load_directory(catdir)
    procedure = Procedure.objects.get(code=PROC_NAME)
    v1 = procedure.current_version
    v1_hash, v1_spec = v1.content_hash, v1.spec
    assert v1.term_days == 10

    # A filing made under version 1.
    with clock.frozen(dt.datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("America/Lima"))):
        filing = file_directly(citizen, procedure, answers_for(procedure)).filing
    assert filing.procedure_version_id == v1.pk

    path = proc_path(catdir)
    replace_line(path, line_of(path, "term_days: 10"), "term_days: 15")
    audits = AuditEntry.objects.count()
    report = load_directory(catdir)

    assert report.versions_created == 1
    procedure.refresh_from_db()
    v2 = procedure.current_version
    assert v2.number == 2
    assert v2.term_days == 15
    assert v2.spec["term_days"] == 15
    assert v2.pk != v1.pk
    assert AuditEntry.objects.count() == audits + 1
    # Version 1 still exists, unchanged.
    v1.refresh_from_db()
    assert v1.number == 1
    assert v1.term_days == 10
    assert v1.content_hash == v1_hash
    assert v1.spec == v1_spec
    assert v1.content_hash != v2.content_hash
    assert ProcedureVersion.objects.filter(procedure=procedure).count() == 2
    # The earlier filing keeps version 1.
    filing.refresh_from_db()
    assert filing.procedure_version_id == v1.pk


@pytest.mark.django_db
def test_the_procedure_cache_follows_catalogue_loads_and_expires(catdir, monkeypatch):
    from tambo.catalog import queries

    load_directory(catdir)
    first = queries.get_procedure("MDSI", PROC_NAME)
    assert first.current_version.term_days == 10
    assert queries.get_procedure("MDSI", PROC_NAME) is first  # kept for the TTL
    assert queries.get_procedure("MDSI", "NO-EXISTE") is None
    assert ("MDSI", "NO-EXISTE") not in queries._procedures  # unknown codes are not kept

    # A load in this process is seen at once.
    path = proc_path(catdir)
    replace_line(path, line_of(path, "term_days: 10"), "term_days: 15")
    load_directory(catdir)
    assert queries.get_procedure("MDSI", PROC_NAME).current_version.term_days == 15

    # A change made elsewhere (another process) is seen once the TTL has passed.
    cached = queries.get_procedure("MDSI", PROC_NAME)
    Procedure.objects.filter(code=PROC_NAME).update(is_active=False)
    assert queries.get_procedure("MDSI", PROC_NAME) is cached
    later = queries.time.monotonic() + queries.PROCEDURE_TTL_SECONDS + 1
    monkeypatch.setattr(queries.time, "monotonic", lambda: later)
    assert queries.get_procedure("MDSI", PROC_NAME) is None


# --- errors name the file and the line --------------------------------------------------------


@pytest.mark.django_db
def test_negative_term_days_names_the_file_and_line(catdir):
    path = proc_path(catdir)
    line = line_of(path, "term_days: 10")
    replace_line(path, line, "term_days: -3")
    error = load_error(catdir)
    assert f"{path}:{line}" in str(error)
    assert "term_days" in str(error)
    assert [p.line for p in error.problems] == [line]
    assert Procedure.objects.count() == 0


@pytest.mark.django_db
def test_retention_years_defaults_to_ten_and_a_zero_names_its_line(catdir):
    path = proc_path(catdir)
    line = line_of(path, "retention_years: 5")
    assert ProcedureVersion.objects.count() == 0
    replace_line(path, line, "retention_years: 0")
    error = load_error(catdir)
    assert f"{path}:{line}" in str(error) and "retention_years" in str(error)
    replace_line(path, line, "# no retention_years: the default applies")
    load_directory(catdir)
    version = Procedure.objects.get(code=PROC_NAME).current_version
    assert version.file.retention_years == 10
    assert version.file.consent is None


@pytest.mark.django_db
def test_consent_text_is_read_per_language(catdir):
    path = proc_path(catdir)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text + "consent:\n  es: Autorizo el tratamiento.\n  en: I authorise the processing.\n",
        encoding="utf-8",
    )
    load_directory(catdir)
    version = Procedure.objects.get(code=PROC_NAME).current_version
    assert version.file.consent == {
        "es": "Autorizo el tratamiento.",
        "en": "I authorise the processing.",
    }


@pytest.mark.django_db
def test_yaml_syntax_error_names_its_line(catdir):
    path = proc_path(catdir)
    line = line_of(path, "term_days: 10")
    replace_line(path, line, "term_days: 10: 11")  # "mapping values are not allowed here"
    error = load_error(catdir)
    assert f"{path}:{line}" in str(error)
    assert "YAML syntax" in str(error)
    assert Procedure.objects.count() == 0


@pytest.mark.django_db
def test_unknown_field_type_names_the_line_of_that_field(catdir):
    path = proc_path(catdir)
    line = line_of(path, "type: long_text")
    replace_line(path, line, "type: longtext")
    error = load_error(catdir)
    assert f"{path}:{line}" in str(error)
    assert "form.0.type" in str(error)
    assert Procedure.objects.count() == 0


@pytest.mark.django_db
def test_document_requirement_pointing_to_a_non_file_field_is_an_error(catdir):
    path = proc_path(catdir)
    requirement = line_of(path, "- id: informacion")
    replace_line(path, line_of(path, "kind: data", start=requirement), "kind: document")
    error = load_error(catdir)
    assert str(path) in str(error)
    assert "document requirement 'informacion' must name a form field of type file" in str(error)
    assert Procedure.objects.count() == 0


@pytest.mark.django_db
def test_unknown_agency_is_an_error_and_nothing_is_loaded(catdir):
    path = proc_path(catdir)
    replace_line(path, line_of(path, "agency: MDSI"), "agency: NOPE")
    error = load_error(catdir)
    assert str(path) in str(error)
    assert "unknown agency 'NOPE'" in str(error)
    # All or nothing: the agency file that was valid is rolled back too.
    assert Agency.objects.count() == 0
    assert Procedure.objects.count() == 0
    assert ProcedureVersion.objects.count() == 0


@pytest.mark.django_db
def test_unknown_unit_is_an_error(catdir):
    path = proc_path(catdir)
    replace_line(path, line_of(path, "unit: SG"), "unit: NOPE")
    error = load_error(catdir)
    assert "has no unit 'NOPE'" in str(error)
    assert Procedure.objects.count() == 0


@pytest.mark.django_db
def test_one_bad_file_among_good_ones_loads_nothing(catdir):
    for name in ("CERTIFICADO-DOMICILIARIO", "RECLAMO-LIBRO"):
        shutil.copy(
            SOURCE / "procedures" / "MDSI" / f"{name}.yaml",
            catdir / "procedures" / "MDSI" / f"{name}.yaml",
        )
    path = proc_path(catdir)
    line = line_of(path, "term_days: 10")
    replace_line(path, line, "term_days: -3")
    error = load_error(catdir)
    assert len(error.problems) == 1
    assert f"{path}:{line}" in str(error)
    assert Procedure.objects.count() == 0
    assert Agency.objects.count() == 0
    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db
def test_duplicate_procedure_code_is_an_error(catdir):
    shutil.copy(proc_path(catdir), catdir / "procedures" / "MDSI" / "COPIA.yaml")
    error = load_error(catdir)
    assert f"procedure {PROC_NAME} is also in" in str(error)
    assert Procedure.objects.count() == 0


@pytest.mark.django_db
def test_a_directory_without_yaml_is_an_error(tmp_path):
    error = load_error(tmp_path)
    assert "no .yaml files found" in str(error)


@pytest.mark.django_db
def test_an_agency_with_an_invalid_ruc_names_its_line(catdir):
    path = catdir / "agencies" / "MDSI.yaml"
    line = line_of(path, 'ruc: "20131377224"')
    replace_line(path, line, 'ruc: "20131377225"')
    error = load_error(catdir)
    assert f"{path}:{line}" in str(error)
    assert "not a valid RUC" in str(error)


# --- the ``tambo catalog load`` command ------------------------------------------------------


@pytest.mark.django_db
def test_catalog_load_command_reports_success(catdir):
    out, err = io.StringIO(), io.StringIO()
    call_command("catalog", "load", str(catdir), stdout=out, stderr=err)
    assert out.getvalue().strip() == (
        "agencies: 1 created, 0 updated; procedures: 1 new versions, 0 unchanged"
    )
    assert Procedure.objects.count() == 1

    out = io.StringIO()
    call_command("catalog", "load", str(catdir), stdout=out, stderr=io.StringIO())
    assert out.getvalue().strip() == (
        "agencies: 0 created, 0 updated; procedures: 0 new versions, 1 unchanged"
    )


@pytest.mark.django_db
def test_catalog_load_command_lists_problems(catdir):
    path = proc_path(catdir)
    term = line_of(path, "term_days: 10")
    replace_line(path, term, "term_days: -3")
    field_type = line_of(path, "type: long_text")
    replace_line(path, field_type, "type: longtext")
    with pytest.raises(CommandError) as info:
        call_command("catalog", "load", str(catdir), stdout=io.StringIO(), stderr=io.StringIO())
    message = str(info.value)
    assert message.startswith("catalogue not loaded, 2 problem(s):")
    assert f"{path}:{term}" in message
    assert f"{path}:{field_type}" in message
    assert Procedure.objects.count() == 0


@pytest.mark.django_db
def test_catalog_load_command_on_a_missing_directory(tmp_path):
    with pytest.raises(CommandError, match="not a directory"):
        call_command(
            "catalog", "load", str(tmp_path / "nope"), stdout=io.StringIO(), stderr=io.StringIO()
        )


# --- search over the demo catalogue ----------------------------------------------------------


def _names_es() -> dict[tuple[str, str], str]:
    """(agency, code) -> Spanish name, read straight from the YAML files."""
    names = {}
    for path in sorted((SOURCE / "procedures").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        name = data["name"] if isinstance(data["name"], str) else data["name"]["es"]
        names[(data["agency"], data["code"])] = name
    return names


def keys(procedures) -> set[tuple[str, str]]:
    return {(p.agency.code, p.code) for p in procedures}


def test_search_licencia_finds_the_procedures_named_licencia(catalog):
    named = {key for key, name in _names_es().items() if "licencia" in name.lower()}
    assert named == {
        ("MDSI", "LF-RIESGO-BAJO"),
        ("MDSI", "LF-RIESGO-MEDIO"),
        ("MDSI", "EDIFICACION-MODALIDAD-A"),
    }
    found = keys(search_procedures("licencia"))
    assert named <= found
    assert ("MDSI", "ACCESO-INFORMACION") not in found
    assert ("MDSI", "MATRIMONIO-CIVIL") not in found


@pytest.mark.parametrize("query", ["LICENCIA", "licéncia", "Licencia", "  licencia  "])
def test_search_ignores_case_and_accents(catalog, query):
    assert keys(search_procedures(query)) == keys(search_procedures("licencia"))


def test_search_without_accent_finds_accented_names(catalog):
    named = {key for key, name in _names_es().items() if "información" in name}
    assert named == {
        ("MDSI", "ACCESO-INFORMACION"),
        ("MTC", "ACCESO-INFORMACION"),
        ("OSIPTEL", "ACCESO-INFORMACION"),
    }
    assert named <= keys(search_procedures("informacion"))
    assert keys(search_procedures("informacion")) == keys(search_procedures("información"))


def test_search_two_words_must_both_match(catalog):
    licencia = keys(search_procedures("licencia"))
    funcionamiento = keys(search_procedures("funcionamiento"))
    both = keys(search_procedures("licencia funcionamiento"))
    assert both == licencia & funcionamiento
    assert {("MDSI", "LF-RIESGO-BAJO"), ("MDSI", "LF-RIESGO-MEDIO")} <= both
    assert ("MDSI", "EDIFICACION-MODALIDAD-A") not in both
    assert both < licencia


def test_search_two_words_in_different_procedures_find_nothing(catalog):
    assert search_procedures("matrimonio") != []
    assert search_procedures("radioaficionado") != []
    assert search_procedures("matrimonio radioaficionado") == []


def test_search_filters_by_agency(catalog):
    found = search_procedures("informacion", agency="MTC")
    assert ("MTC", "ACCESO-INFORMACION") in keys(found)
    assert {p.agency.code for p in found} == {"MTC"}


def test_search_filters_by_topic(catalog):
    found = search_procedures("", topic="transparencia")
    assert keys(found) == {
        ("MDSI", "ACCESO-INFORMACION"),
        ("MTC", "ACCESO-INFORMACION"),
        ("OSIPTEL", "ACCESO-INFORMACION"),
    }
    both = search_procedures("", agency="OSIPTEL", topic="telecomunicaciones")
    assert keys(both) == {("OSIPTEL", "ACCESO-INFORMACION"), ("OSIPTEL", "RECLAMO-APELACION")}


def test_search_with_an_empty_query_lists_every_published_procedure(catalog):
    assert len(search_procedures("")) == len(_names_es()) == catalog.count()


def test_search_text_is_folded(catalog):
    for procedure in catalog:
        assert procedure.search_text == fold(procedure.search_text)
