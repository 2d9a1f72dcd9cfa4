"""Read catalogue YAML files, validate them, and publish them (``tambo catalog load DIR``).

Errors name the file, the line and the problem. Loading is all-or-nothing: one bad
file and nothing is changed. An unchanged procedure file changes nothing; a changed
one becomes a new version, and filed cases keep theirs.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import connection, transaction
from pydantic import ValidationError

from tambo.core import audit, clock

from . import readability
from .models import Agency, AgencyClosure, OrgUnit, Procedure, ProcedureVersion, Topic
from .queries import forget_cached_catalog
from .schema import AgencyFile, ProcedureFile
from .texts import all_languages, fold, localize

# libyaml's loader when available: ten times faster on large catalogues, same safe subset.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class FileProblem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class CatalogError(Exception):
    """One or more catalogue files are invalid; nothing was loaded."""

    def __init__(self, problems: list[FileProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class LoadReport:
    agencies_created: int = 0
    agencies_updated: int = 0
    versions_created: int = 0
    unchanged: int = 0
    warnings: list[FileProblem] = field(default_factory=list)


def _line_map(node: yaml.Node, path: tuple = (), lines: dict | None = None) -> dict[tuple, int]:
    """Map each key path of a YAML document to its 1-based line number."""
    lines = {} if lines is None else lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            lines[child] = key_node.start_mark.line + 1
            _line_map(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), lines)
    return lines


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    path = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


PATH_PREFIX = re.compile(r"^((?:[a-z_]+|\d+)(?:\.(?:[a-z_]+|\d+))*): ")


def _location(error: dict[str, Any]) -> tuple[tuple, str]:
    """The error's path in the document and its message (paths given in messages included)."""
    loc = tuple(p for p in error["loc"] if not str(p).startswith(("function-", "str", "dict")))
    message = error["msg"].removeprefix("Value error, ")
    match = PATH_PREFIX.match(message)
    if match:
        loc = (*loc, *(int(p) if p.isdigit() else p for p in match.group(1).split(".")))
        message = message[match.end() :]
    return loc, message


def _describe(loc: tuple, message: str) -> str:
    where = ".".join(str(p) for p in loc)
    return f"{where}: {message}" if where else message


def parse_file(path: Path) -> AgencyFile | ProcedureFile:
    """Parse and validate one file; raises :class:`CatalogError` naming file and line."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=SAFE_LOADER)
        data = yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - SAFE_LOADER is a yaml.SafeLoader subclass  # nosec B506
    except UnicodeDecodeError:
        raise CatalogError([FileProblem(name, None, "not UTF-8 text")]) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise CatalogError([FileProblem(name, line, f"YAML syntax: {exc.problem}")]) from None
    if not isinstance(data, dict) or node is None:
        raise CatalogError(
            [FileProblem(name, 1, "expected a mapping with 'kind: agency' or 'kind: procedure'")]
        )
    kind = data.get("kind")
    model = {"agency": AgencyFile, "procedure": ProcedureFile}.get(kind)  # type: ignore[arg-type]
    if model is None:
        raise CatalogError(
            [FileProblem(name, 1, f"'kind' must be 'agency' or 'procedure', got {kind!r}")]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = _line_map(node)
        problems = []
        for err in exc.errors(include_url=False):
            loc, message = _location(err)  # type: ignore[arg-type]
            problems.append(FileProblem(name, _line_for(loc, lines), _describe(loc, message)))
        raise CatalogError(problems) from None


def spec_hash(spec: dict[str, Any]) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


NAME_MAX = 120
TEXT_MAX = 400
SENTENCE_MAX_WORDS = 30


def _citizen_texts(proc: ProcedureFile) -> list[tuple[tuple, str]]:
    """Every Spanish text a citizen reads, with its path in the file."""
    texts: list[tuple[tuple, str]] = [
        (("summary",), localize(proc.summary, "es")),
        (("audience",), localize(proc.audience, "es")),
    ]
    if proc.fee.note:
        texts.append((("fee", "note"), localize(proc.fee.note, "es")))
    texts += [(("steps", i), localize(step, "es")) for i, step in enumerate(proc.steps)]
    for i, req in enumerate(proc.requirements):
        texts.append((("requirements", i, "name"), localize(req.name, "es")))
        if req.note:
            texts.append((("requirements", i, "note"), localize(req.note, "es")))
    for i, form_field in enumerate(proc.form):
        texts.append((("form", i, "label"), localize(form_field.label, "es")))
        if form_field.help:
            texts.append((("form", i, "help"), localize(form_field.help, "es")))
    if proc.notes:
        texts.append((("notes",), localize(proc.notes, "es")))
    return texts


def plain_language_warnings(
    path: str, proc: ProcedureFile, lines: dict[tuple, int] | None = None
) -> list[FileProblem]:
    """Length and reading-level checks on the texts citizens read (warnings, not errors).

    Reading level is the Szigriszt-Pazos index (``readability.py``); a text under 55 on the
    INFLESZ scale is "somewhat hard" or worse for the general public.
    """
    lines = lines or {}
    found: list[tuple[tuple, str]] = []
    name = localize(proc.name, "es")
    if len(name) > NAME_MAX:
        found.append((("name",), f"name is {len(name)} characters; keep it under {NAME_MAX}"))
    first_word = name.split()[0].lower() if name else ""
    if not first_word.endswith(("ar", "er", "ir")):
        found.append((("name",), "name should start with a verb (Solicitar, Obtener...)"))
    for loc, text in _citizen_texts(proc):
        where = ".".join(str(p) for p in loc)
        if len(text) > TEXT_MAX:
            found.append((loc, f"{where} is {len(text)} characters; keep it under {TEXT_MAX}"))
        words = readability.longest_sentence(text)
        if words > SENTENCE_MAX_WORDS:
            found.append(
                (
                    loc,
                    f"{where} has a sentence of {words} words; keep them under "
                    f"{SENTENCE_MAX_WORDS}",
                )
            )
        score = readability.szigriszt_pazos(text)
        if score is not None and score < readability.HARD_BELOW:
            found.append(
                (
                    loc,
                    f"{where} is hard to read (Szigriszt-Pazos {score:.0f}, aim for "
                    f"{readability.HARD_BELOW:.0f} or more): use shorter words and sentences",
                )
            )
    return [FileProblem(path, _line_for(loc, lines), message) for loc, message in found]


def review_warnings(path: Path, proc: ProcedureFile) -> list[FileProblem]:
    """One warning per language whose texts are machine-made (``review_pending``)."""
    if not proc.review_pending:
        return []
    line = _line_for(("review_pending",), _file_lines(path))
    return [
        FileProblem(
            str(path),
            line,
            f"{proc.texts_in(lang)} '{lang}' texts are machine-made, pending review by a native "
            "speaker (review_pending)",
        )
        for lang in proc.review_pending
    ]


def _file_lines(path: Path) -> dict[tuple, int]:
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    return _line_map(node) if node is not None else {}


def _collect(
    directory: Path,
) -> tuple[list[tuple[Path, AgencyFile]], list[tuple[Path, ProcedureFile]]]:
    agencies, procedures, problems = [], [], []
    files = sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"})
    if not files:
        raise CatalogError([FileProblem(str(directory), None, "no .yaml files found")])
    for path in files:
        try:
            parsed = parse_file(path)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        (agencies if isinstance(parsed, AgencyFile) else procedures).append((path, parsed))
    seen: dict[tuple[str, str], Path] = {}
    for path, proc in procedures:
        key = (proc.agency, proc.code)
        if key in seen:
            problems.append(
                FileProblem(str(path), 1, f"procedure {proc.code} is also in {seen[key]}")
            )
        seen[key] = path
    if problems:
        raise CatalogError(problems)
    return agencies, procedures


def _load_agency(path: Path, spec: AgencyFile, report: LoadReport) -> None:
    values = {
        "name": spec.name,
        "type": spec.type,
        "ruc": spec.ruc,
        "ubigeo": spec.ubigeo,
        "address": spec.address,
        "website": spec.website,
        "opening_hours": spec.opening_hours,
        "filing_cutoff": spec.filing_cutoff,
        "notice_ack_days": spec.notice_ack_days,
        "due_soon_percent": spec.due_soon_percent,
        "search_text": fold(f"{spec.name} {spec.code}"),
    }
    agency, created = Agency.objects.get_or_create(code=spec.code, defaults=values)
    changed = created
    if not created and any(getattr(agency, k) != v for k, v in values.items()):
        Agency.objects.filter(pk=agency.pk).update(**values)
        changed = True
    units = {u.code: u.name for u in spec.org_units}
    existing_units = dict(agency.units.values_list("code", "name"))
    if existing_units != units:
        for code, unit_name in units.items():
            OrgUnit.objects.update_or_create(agency=agency, code=code, defaults={"name": unit_name})
        changed = True
    closures = {d.date: d.reason for d in spec.non_working_days}
    if dict(agency.closures.values_list("date", "reason")) != closures:
        agency.closures.exclude(date__in=closures).delete()
        for day, reason in closures.items():
            AgencyClosure.objects.update_or_create(
                agency=agency, date=day, defaults={"reason": reason}
            )
        changed = True
    if created:
        report.agencies_created += 1
    elif changed:
        report.agencies_updated += 1
    if changed:
        audit.record(
            "agency.published",
            "agency",
            spec.code,
            agency_code=spec.code,
            data={"source": str(path), "created": created},
        )


def _load_procedure(path: Path, spec: ProcedureFile, report: LoadReport) -> None:
    agency = Agency.objects.filter(code=spec.agency).first()
    if agency is None:
        raise CatalogError([FileProblem(str(path), 1, f"unknown agency {spec.agency!r}")])
    if not agency.units.filter(code=spec.unit).exists():
        raise CatalogError(
            [FileProblem(str(path), 1, f"agency {spec.agency} has no unit {spec.unit!r}")]
        )
    unit = agency.units.get(code=spec.unit)
    data = spec.model_dump(mode="json", exclude_none=True, by_alias=True)
    digest = spec_hash(data)
    name_es = localize(spec.name, "es")
    procedure, _ = Procedure.objects.get_or_create(
        agency=agency, code=spec.code, defaults={"name": name_es, "unit": unit}
    )
    current = procedure.current_version
    if current is not None and current.content_hash == digest:
        report.unchanged += 1
        return
    version = ProcedureVersion.objects.create(
        procedure=procedure,
        number=(current.number + 1) if current else 1,
        content_hash=digest,
        spec=data,
        source_path=str(path),
        published_at=clock.now(),
        approval=spec.approval,
        term_days=spec.term_days,
    )
    searchable = " ".join(
        [
            all_languages(spec.name),
            all_languages(spec.summary),
            spec.code,
            agency.name,
            *spec.topics,
        ]
    )
    procedure.current_version = version
    procedure.name = name_es
    procedure.unit = unit
    procedure.search_text = fold(searchable)
    procedure.is_active = True
    procedure.save()
    procedure.topics.set(
        [
            Topic.objects.get_or_create(
                slug=t, defaults={"name": t.replace("-", " ").capitalize()}
            )[0]
            for t in spec.topics
        ]
    )
    report.versions_created += 1
    warnings = plain_language_warnings(str(path), spec)
    if warnings:  # only then re-read the file for the lines the warnings point at
        warnings = plain_language_warnings(str(path), spec, _file_lines(path))
    report.warnings.extend(warnings)
    report.warnings.extend(review_warnings(path, spec))
    audit.record(
        "procedure.version_published",
        "procedure",
        f"{agency.code}/{spec.code}",
        agency_code=agency.code,
        data={"version": version.number, "content_hash": digest, "source": str(path)},
    )


def load_directory(directory: Path) -> LoadReport:
    """Validate every file under ``directory``, then publish them in one transaction."""
    if not directory.is_dir():
        raise CatalogError([FileProblem(str(directory), None, "not a directory")])
    agencies, procedures = _collect(directory)
    report = LoadReport()
    with transaction.atomic():
        for path, agency in agencies:
            _load_agency(path, agency, report)
        for path, proc in procedures:
            _load_procedure(path, proc, report)
    forget_cached_catalog()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Fresh statistics, so the planner knows when the trigram index pays off.
            cursor.execute("ANALYZE catalog_procedure")
    return report
