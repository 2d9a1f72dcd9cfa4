"""``tambo i18n_check``: are the translation catalogues complete, consistent and compiled?

Reads ``tambo/locale/{es,en,qu}/LC_MESSAGES/django.po`` with a small pure-Python parser (no
gettext tools needed) and fails when:

- an entry of a required language (``es``, ``en``) is untranslated or fuzzy: Django ignores
  fuzzy entries, so the page would show the Spanish source text;
- a Spanish ``msgstr`` differs from its ``msgid`` (Spanish is the source language);
- a translation's ``%(name)s`` placeholders differ from the source's (a missing or extra name
  breaks ``blocktranslate`` and ``gettext(...) % values`` at run time) — machine-made Quechua
  included, since it is shown; only fuzzy Quechua, never shown, is left out;
- the catalogues do not hold the same messages, or a header is wrong;
- a committed ``django.mo`` does not match its ``.po`` (run ``tambo compilemessages``).

With ``--check-extracted`` it also runs ``makemessages`` (with the arguments below) on a
temporary copy of the package's sources, into a temporary locale directory, and fails if the
code holds messages the catalogues lack; messages only the catalogues hold are a warning. That
needs GNU gettext's ``xgettext``, as ``makemessages`` itself does.

It then prints how much is translated, Quechua included. Quechua is not required: a message
without a Quechua text falls back to Spanish. Machine-made Quechua is shown to citizens (it is
not fuzzy: gettext ignores fuzzy entries) and carries the translator comment ``REVIEW_MARKER``
until a native speaker has reviewed it; the report counts those entries as pending review.
Translator comments survive ``makemessages`` (msgmerge keeps them). A fuzzy Quechua entry is
only msgmerge's guess after a Spanish text changed: it is not shown and not counted, and the
check warns about it.
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

LANGUAGES = ("es", "en", "qu")
REQUIRED = ("es", "en")
# The translator comment above each machine-made entry; delete it once a native speaker agrees.
REVIEW_MARKER = "revisar: traducción automática (pendiente de revisión por hablante nativo)"
REVIEW_PREFIX = "revisar:"  # what the check looks for, so a shorter note still counts
SOURCE_LANGUAGE = "es"
# makemessages must be run from the tambo/ package directory (so LOCALE_PATHS is used) as:
#   ../.venv/bin/tambo makemessages -l es -l en -l qu --no-location --no-obsolete \
#       -i "locale/*" -i "static/*" -i "*/migrations/*"
IGNORE_PATTERNS = ["locale/*", "static/*", "*/migrations/*"]
MAKEMESSAGES = (
    "cd tambo && ../.venv/bin/tambo makemessages -l es -l en -l qu --no-location --no-obsolete "
    + " ".join(f'-i "{p}"' for p in IGNORE_PATTERNS)
)
MAX_LISTED = 20
SOURCE_SUFFIXES = (".py", ".html", ".txt")  # what makemessages reads for the django domain
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[sdirfeEgGxXoc%]")
_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}
_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")


class PoSyntaxError(ValueError):
    pass


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    comments: list[str] = field(default_factory=list)  # translator comments ("# ..."), stripped
    obsolete: bool = False
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def pending_review(self) -> bool:
        """Machine-made, waiting for a native speaker (the translator comment says so)."""
        return any(c.startswith(REVIEW_PREFIX) for c in self.comments)

    @property
    def translated(self) -> bool:
        """Every form has a text (fuzzy or not)."""
        return bool(self.msgstr) and all(self.msgstr.values())

    @property
    def shown(self) -> bool:
        """gettext uses it at run time: translated and not fuzzy."""
        return self.translated and not self.fuzzy

    @property
    def started(self) -> bool:
        """Has some form a text (a partly translated plural counts)."""
        return any(self.msgstr.values())

    def describe(self) -> str:
        text = self.msgid if len(self.msgid) <= 70 else self.msgid[:67] + "..."
        return f"line {self.line}: {text!r}"


@dataclass
class Catalogue:
    path: Path
    header: dict[str, str]
    entries: list[Entry]

    @property
    def messages(self) -> list[Entry]:
        return [e for e in self.entries if not e.is_header and not e.obsolete]


def _unquote(text: str, where: str) -> str:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise PoSyntaxError(f"{where}: expected a quoted string")
    body = text[1:-1]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body) or body[i + 1] not in _ESCAPES:
                raise PoSyntaxError(f"{where}: unknown escape in {text}")
            out.append(_ESCAPES[body[i + 1]])
            i += 2
            continue
        if ch == '"':
            raise PoSyntaxError(f"{where}: unescaped quote in {text}")
        out.append(ch)
        i += 1
    return "".join(out)


def parse_po(path: Path) -> Catalogue:
    """Parse a .po file (the subset gettext and Django write); raise PoSyntaxError if malformed."""
    entries: list[Entry] = []
    current = Entry()
    last: tuple[str, int] | None = None  # the keyword the next continuation line extends
    seen_msgstr = False

    def flush() -> None:
        nonlocal current, last, seen_msgstr
        if last is not None:
            if not seen_msgstr:
                raise PoSyntaxError(f"{path}:{current.line}: entry without msgstr")
            entries.append(current)
        current, last, seen_msgstr = Entry(), None, False

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        where = f"{path}:{number}"
        if not line:
            flush()
            continue
        obsolete = False
        if line.startswith("#~"):
            obsolete = True
            line = line[2:].strip()
            if line.startswith("|") or not line:
                continue
        elif line.startswith("#"):
            if seen_msgstr:
                flush()
            if line.startswith("#,"):
                current.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            elif line == "#" or line.startswith("# "):
                current.comments.append(line[1:].strip())
            continue
        if line.startswith('"'):
            if last is None:
                raise PoSyntaxError(f"{where}: continuation line outside an entry")
            text = _unquote(line, where)
            name, index = last
            if name == "msgctxt":
                current.msgctxt = (current.msgctxt or "") + text
            elif name == "msgid":
                current.msgid += text
            elif name == "msgid_plural":
                current.msgid_plural = (current.msgid_plural or "") + text
            else:
                current.msgstr[index] += text
            continue
        match = _KEYWORD.match(line)
        if match is None:
            raise PoSyntaxError(f"{where}: cannot read {raw!r}")
        keyword, index_text, quoted = match.groups()
        if keyword in ("msgctxt", "msgid") and seen_msgstr:
            flush()
        text = _unquote(quoted, where)
        if keyword == "msgctxt":
            current.msgctxt = text
        elif keyword == "msgid":
            current.msgid = text
        elif keyword == "msgid_plural":
            current.msgid_plural = text
        else:
            seen_msgstr = True
            index = int(index_text) if index_text is not None else 0
            current.msgstr[index] = text
        if not current.line:
            current.line = number
        current.obsolete = current.obsolete or obsolete
        last = (keyword.split("[")[0], int(index_text or 0))
    flush()

    header: dict[str, str] = {}
    for entry in entries:
        if entry.is_header and not entry.obsolete:
            for header_line in entry.msgstr.get(0, "").splitlines():
                name, _sep, value = header_line.partition(":")
                header[name.strip()] = value.strip()
    return Catalogue(path, header, entries)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _listed(title: str, items: list[str]) -> str:
    shown = "\n".join(f"  - {item}" for item in items[:MAX_LISTED])
    more = f"\n  ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"{title} ({len(items)}):\n{shown}{more}"


def check_catalogue(lang: str, catalogue: Catalogue) -> list[str]:
    """The problems of one catalogue, each a paragraph naming up to MAX_LISTED entries."""
    problems = []
    where = catalogue.path
    language = catalogue.header.get("Language", "")
    if language != lang:
        problems.append(f"{where}: header Language is {language!r}, expected {lang!r}")
    if "charset=utf-8" not in catalogue.header.get("Content-Type", "").lower().replace(" ", ""):
        problems.append(f"{where}: header Content-Type must declare charset=UTF-8")
    if not catalogue.header.get("Plural-Forms", "").startswith("nplurals="):
        problems.append(f"{where}: header Plural-Forms is missing")

    messages = catalogue.messages
    if lang in REQUIRED:
        missing = [e.describe() for e in messages if not e.translated]
        if missing:
            problems.append(_listed(f"{where}: untranslated entries", missing))
        fuzzy = [e.describe() for e in messages if e.fuzzy]
        if fuzzy:
            problems.append(_listed(f"{where}: fuzzy entries (ignored at run time)", fuzzy))
    if lang == SOURCE_LANGUAGE:
        differ = []
        for e in messages:
            expected = {0: e.msgid} if e.msgid_plural is None else {0: e.msgid, 1: e.msgid_plural}
            if e.msgstr != expected:
                differ.append(e.describe())
        if differ:
            problems.append(_listed(f"{where}: msgstr differs from msgid", differ))

    bad_placeholders = []
    for e in messages:
        if e.fuzzy and lang not in REQUIRED:
            continue  # never shown; the command warns about it instead
        source = placeholders(e.msgid) | placeholders(e.msgid_plural or "")
        for index, text in sorted(e.msgstr.items()):
            if not text:
                continue
            found = placeholders(text)
            # A plural form may leave out the count ("one day"), never add a name.
            ok = found <= source if e.msgid_plural is not None else found == source
            if not ok:
                bad_placeholders.append(
                    f"{e.describe()} msgstr[{index}] has {sorted(found)}, source has {sorted(source)}"
                )
    if bad_placeholders:
        problems.append(_listed(f"{where}: placeholders differ", bad_placeholders))
    return problems


def check_compiled(catalogue: Catalogue) -> str | None:
    """A problem if the .mo beside the .po is missing or does not hold what msgfmt would write."""
    mo_path = catalogue.path.with_suffix(".mo")
    if not mo_path.exists():
        return f"{mo_path} is missing: run `cd tambo && ../.venv/bin/tambo compilemessages`"
    with mo_path.open("rb") as stream:
        compiled = gettext.GNUTranslations(stream)._catalog
    compiled = {k: v for k, v in compiled.items() if k != ""}
    expected: dict[object, str] = {}
    for e in catalogue.messages:
        if e.fuzzy or not e.translated:
            continue
        msgid = e.msgid if e.msgctxt is None else f"{e.msgctxt}\x04{e.msgid}"
        if e.msgid_plural is None:
            expected[msgid] = e.msgstr[0]
        else:
            for index, text in e.msgstr.items():
                expected[(msgid, index)] = text
    if compiled != expected:
        return (
            f"{mo_path} does not match {catalogue.path.name} "
            f"({len(compiled)} compiled messages, {len(expected)} expected): "
            "run `cd tambo && ../.venv/bin/tambo compilemessages`"
        )
    return None


def _copy_sources(source: Path, target: Path) -> None:
    """Copy the files makemessages reads (not the locale directory, which it would update)."""

    def skipped(directory: str, names: list[str]) -> list[str]:
        return [
            name
            for name in names
            if name in ("locale", "__pycache__")
            or (Path(directory, name).is_file() and Path(name).suffix not in SOURCE_SUFFIXES)
        ]

    shutil.copytree(source, target, ignore=skipped)


def extracted_keys() -> set[tuple[str | None, str, str | None]]:
    """The messages makemessages finds in the code now.

    makemessages writes beside the files it reads whenever the tree has a ``locale``
    directory, so it runs on a copy of the package's sources with a temporary LOCALE_PATHS:
    the real catalogues are never touched.
    """
    from django.test.utils import override_settings

    if shutil.which("xgettext") is None:
        raise CommandError(
            "--check-extracted runs makemessages, which needs GNU gettext (apt-get install gettext)"
        )
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="tambo-i18n-") as tmp:
        sources = Path(tmp) / "tambo"
        locale_dir = Path(tmp) / "locale"
        _copy_sources(Path(settings.BASE_DIR), sources)
        locale_dir.mkdir()
        try:
            os.chdir(sources)
            with override_settings(LOCALE_PATHS=[str(locale_dir)]):
                call_command(
                    "makemessages",
                    locale=[SOURCE_LANGUAGE],
                    ignore_patterns=IGNORE_PATTERNS,
                    no_location=True,
                    keep_pot=True,
                    verbosity=0,
                )
        finally:
            os.chdir(previous)
        pot = parse_po(locale_dir / "django.pot")
    return {e.key for e in pot.messages}


def review_report(lang: str, catalogue: Catalogue) -> str:
    """One line: the share shown in ``lang`` and how much of it still awaits a native speaker."""
    messages = catalogue.messages
    shown = [e for e in messages if e.shown]
    pending = [e for e in shown if e.pending_review]
    share = 100 * len(shown) / len(messages) if messages else 100.0
    return (
        f"{lang}: {len(shown)} of {len(messages)} translated ({share:.0f}%); "
        f"{len(pending)} of them machine-made, pending review by a native speaker"
    )


class Command(BaseCommand):
    help = (
        "Check the translation catalogues: es and en complete, placeholders kept, .mo files "
        "compiled; report how much is translated into Quechua."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check-extracted",
            action="store_true",
            help="Also run makemessages into a temporary directory and fail if the code has "
            "messages the catalogues lack (needs GNU gettext).",
        )
        parser.add_argument(
            "--locale-dir",
            default=None,
            help="The locale directory to check (default: the first of LOCALE_PATHS).",
        )

    def handle(
        self, *args, check_extracted: bool = False, locale_dir: str | None = None, **options
    ):
        root = Path(locale_dir or settings.LOCALE_PATHS[0])
        problems: list[str] = []
        catalogues: dict[str, Catalogue] = {}
        for lang in LANGUAGES:
            path = root / lang / "LC_MESSAGES" / "django.po"
            if not path.exists():
                problems.append(f"{path} is missing: run `{MAKEMESSAGES}`")
                continue
            try:
                catalogues[lang] = parse_po(path)
            except PoSyntaxError as exc:
                problems.append(str(exc))
                continue
            problems.extend(check_catalogue(lang, catalogues[lang]))
            compiled_problem = check_compiled(catalogues[lang])
            if compiled_problem:
                problems.append(compiled_problem)

        source = catalogues.get(SOURCE_LANGUAGE)
        if source is not None:
            source_keys = {e.key for e in source.messages}
            for lang, catalogue in catalogues.items():
                keys = {e.key for e in catalogue.messages}
                if keys != source_keys:
                    only_here = sorted(repr(k[1]) for k in keys - source_keys)
                    only_there = sorted(repr(k[1]) for k in source_keys - keys)
                    problems.append(
                        _listed(
                            f"{catalogue.path}: messages differ from the {SOURCE_LANGUAGE} "
                            f"catalogue (run `{MAKEMESSAGES}`)",
                            [f"only in {lang}: {m}" for m in only_here]
                            + [f"missing in {lang}: {m}" for m in only_there],
                        )
                    )
            if check_extracted:
                in_code = extracted_keys()
                new = sorted(repr(k[1]) for k in in_code - source_keys)
                gone = sorted(repr(k[1]) for k in source_keys - in_code)
                if new:
                    problems.append(
                        _listed(
                            f"the code has messages the catalogues lack: run `{MAKEMESSAGES}`, "
                            "translate them, then compilemessages",
                            new,
                        )
                    )
                if gone:
                    self.stderr.write(
                        _listed(
                            "warning: messages no longer in the code (makemessages drops them)",
                            gone,
                        )
                    )

        for lang, catalogue in catalogues.items():
            if lang in REQUIRED:
                translated = [e for e in catalogue.messages if e.started]
                self.stdout.write(
                    f"{lang}: {len(translated)} of {len(catalogue.messages)} translated"
                )
            else:
                self.stdout.write(review_report(lang, catalogue))
                fuzzy = [e.describe() for e in catalogue.messages if e.fuzzy and e.started]
                if fuzzy:
                    self.stderr.write(
                        _listed(
                            f"warning: {catalogue.path}: fuzzy entries, not shown (msgmerge's "
                            "guesses after a Spanish text changed: translate them and mark them "
                            f"'# {REVIEW_MARKER}', or empty them)",
                            fuzzy,
                        )
                    )
        if problems:
            raise CommandError("translation catalogues:\n" + "\n".join(problems))
        self.stdout.write("i18n check OK")
