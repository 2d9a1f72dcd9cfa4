"""Translation catalogues: complete for es/en, extracted from the code, and used by the pages."""

from __future__ import annotations

import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from tambo.catalog.presenters import APPROVAL_LABELS
from tambo.core.management.commands.i18n_check import REVIEW_MARKER, parse_po, review_report

LOCALE = Path(settings.LOCALE_PATHS[0])
SPANISH_NAV = [
    "Saltar al contenido principal",
    "Consultar un expediente",
    "Ingresar",
    "Buscar un trámite",
]
needs_xgettext = pytest.mark.skipif(
    shutil.which("xgettext") is None, reason="makemessages needs GNU gettext (xgettext)"
)


@pytest.fixture(autouse=True)
def keep_language():
    """Requests activate their language in this thread: give the next test back the default."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def run_check(*args: str, **options) -> str:
    out = StringIO()
    call_command("i18n_check", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def nav_labels(html: str) -> list[str]:
    """The text of every item of the main menu (links and the sign-out button)."""
    nav = re.search(r'<nav class="site-nav".*?</nav>', html, re.S)
    assert nav, "the page has no main menu"
    items = re.findall(r"<li>(.*?)</li>", nav.group(0), re.S)
    return [re.sub(r"<[^>]+>", "", item).strip() for item in items]


def test_catalogues_pass_the_check():
    output = run_check()
    for lang in ("es", "en"):
        assert re.search(rf"^{lang}: (\d+) of \1 translated$", output, re.M), output
    assert re.search(
        r"^qu: \d+ of \d+ translated \(\d+%\); \d+ of them machine-made, pending review by a "
        r"native speaker$",
        output,
        re.M,
    ), output
    assert "i18n check OK" in output


@needs_xgettext
def test_catalogues_hold_every_message_in_the_code():
    assert "i18n check OK" in run_check(check_extracted=True)


@needs_xgettext
def test_check_extracted_fails_on_a_new_message(tmp_path):
    sources = tmp_path / "tambo"
    shutil.copytree(
        settings.BASE_DIR, sources, ignore=shutil.ignore_patterns("locale", "__pycache__")
    )
    (sources / "templates" / "nuevo.html").write_text(
        '{% load i18n %}{% translate "Un mensaje que nadie tradujo" %}', encoding="utf-8"
    )
    with override_settings(BASE_DIR=sources), pytest.raises(CommandError) as error:
        run_check(check_extracted=True)
    assert "Un mensaje que nadie tradujo" in str(error.value)
    assert not (LOCALE / "django.pot").exists()


def test_check_fails_on_untranslated_and_fuzzy_english(tmp_path):
    locale = tmp_path / "locale"
    shutil.copytree(LOCALE, locale)
    po = locale / "en" / "LC_MESSAGES" / "django.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "Continuar"\nmsgstr "Continue"', 'msgid "Continuar"\nmsgstr ""')
    text = text.replace('msgid "Volver"\nmsgstr "Back"', '#, fuzzy\nmsgid "Volver"\nmsgstr "Back"')
    text = text.replace('msgstr "Case file assigned to %(name)s."', 'msgstr "Case file assigned."')
    po.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as error:
        run_check(locale_dir=str(locale))
    message = str(error.value)
    assert "untranslated entries (1)" in message and "'Continuar'" in message
    assert "fuzzy entries (ignored at run time) (1)" in message and "'Volver'" in message
    assert "placeholders differ" in message and "Expediente asignado a %(name)s." in message
    assert "django.mo does not match" in message


QU_PO = LOCALE / "qu" / "LC_MESSAGES" / "django.po"
QU_NAV = {  # the Quechua of the anonymous menu, as the catalogue has it
    "Trámites": "Mañakuykuna",
    "Consultar un expediente": "Expediente nisqata qhaway",
    "Ingresar": "Yaykuy",
}


def quechua(msgid: str) -> str:
    with translation.override("qu"):
        return translation.gettext(msgid)


def test_machine_made_quechua_is_shown_and_marked_for_review():
    """Machine-made Quechua is not fuzzy (gettext would hide it) and carries the review note."""
    catalogue = parse_po(QU_PO)
    written = [e for e in catalogue.messages if e.started]
    assert len(written) >= 300, "the citizen's pages need their Quechua"
    assert not [e.describe() for e in written if e.fuzzy]
    assert all(e.pending_review for e in written), "machine-made Quechua must say so"
    # The note is a translator comment right above the entry, which makemessages keeps.
    text = QU_PO.read_text(encoding="utf-8")
    assert text.count(f"\n# {REVIEW_MARKER}\n") == len(written)
    report = review_report("qu", catalogue)
    assert f"qu: {len(written)} of {len(catalogue.messages)} translated" in report
    assert f"; {len(written)} of them machine-made, pending review" in report


@needs_xgettext
def test_the_review_marker_survives_makemessages(tmp_path, monkeypatch):
    """`make messages` (makemessages, i.e. msgmerge) keeps the translator comments."""
    from tambo.core.management.commands.i18n_check import IGNORE_PATTERNS, _copy_sources

    sources, locale = tmp_path / "tambo", tmp_path / "locale"
    _copy_sources(Path(settings.BASE_DIR), sources)
    shutil.copytree(LOCALE, locale)
    monkeypatch.chdir(sources)
    with override_settings(LOCALE_PATHS=[str(locale)]):
        call_command(
            "makemessages",
            locale=["qu"],
            ignore_patterns=IGNORE_PATTERNS,
            no_location=True,
            no_obsolete=True,
            verbosity=0,
        )
    merged = locale / "qu" / "LC_MESSAGES" / "django.po"
    assert merged.read_text(encoding="utf-8") != ""
    before, after = parse_po(QU_PO), parse_po(merged)
    assert review_report("qu", after) == review_report("qu", before)
    assert {e.msgid for e in after.messages if e.pending_review} == {
        e.msgid for e in before.messages if e.pending_review
    }


def edited_quechua(tmp_path, edit) -> Path:
    """A copy of the locale directory whose Quechua catalogue went through ``edit``."""
    locale = tmp_path / "locale"
    shutil.copytree(LOCALE, locale)
    po = locale / "qu" / "LC_MESSAGES" / "django.po"
    po.write_text(edit(po.read_text(encoding="utf-8")), encoding="utf-8")
    return locale


def test_the_review_marker_is_counted(tmp_path):
    before = parse_po(QU_PO)
    shown = sum(e.shown for e in before.messages)
    pending = sum(e.pending_review for e in before.messages if e.shown)
    marked_volver = f'# {REVIEW_MARKER}\nmsgid "Volver"\nmsgstr "Kutiy"'
    marked_buscar = f'# {REVIEW_MARKER}\nmsgid "Buscar"\nmsgstr "Maskay"'
    assert marked_volver in QU_PO.read_text(encoding="utf-8")

    def review_one_and_fuzz_one(text: str) -> str:
        # A native speaker approved "Volver": the note goes, the text stays and is shown.
        text = text.replace(marked_volver, 'msgid "Volver"\nmsgstr "Kutiy"')
        # msgmerge's guess after a Spanish change: fuzzy, so neither shown nor counted.
        return text.replace(
            marked_buscar, f'# {REVIEW_MARKER}\n#, fuzzy\nmsgid "Buscar"\nmsgstr "Maskay"'
        )

    locale = edited_quechua(tmp_path, review_one_and_fuzz_one)
    after = parse_po(locale / "qu" / "LC_MESSAGES" / "django.po")
    report = review_report("qu", after)
    assert f"qu: {shown - 1} of {len(before.messages)} translated" in report
    assert f"; {pending - 2} of them machine-made, pending review" in report


def test_check_fails_on_broken_placeholders_in_machine_made_quechua(tmp_path):
    marked = f'# {REVIEW_MARKER}\n#, python-format\nmsgid "Fundamentos: %(reason)s"\n'
    assert marked + 'msgstr "Imarayku: %(reason)s"' in QU_PO.read_text(encoding="utf-8")
    locale = edited_quechua(
        tmp_path,
        lambda text: text.replace(
            marked + 'msgstr "Imarayku: %(reason)s"', marked + 'msgstr "Imarayku: %(razon)s"'
        ),
    )
    with pytest.raises(CommandError) as error:
        run_check(locale_dir=str(locale))
    message = str(error.value)
    assert "qu/LC_MESSAGES/django.po: placeholders differ (1)" in message
    assert "Fundamentos: %(reason)s" in message and "['razon']" in message


def test_fuzzy_quechua_is_a_warning_not_a_failure(tmp_path):
    locale = edited_quechua(
        tmp_path,
        lambda text: text.replace(
            f'# {REVIEW_MARKER}\nmsgid "Buscar"\nmsgstr "Maskay"',
            '#, fuzzy\nmsgid "Buscar"\nmsgstr "Maskay %(n)s"',
        ),
    )
    err = StringIO()
    with pytest.raises(CommandError) as error:  # only because the .mo no longer matches
        call_command("i18n_check", locale_dir=str(locale), stdout=StringIO(), stderr=err)
    assert "placeholders differ" not in str(error.value)
    assert "django.mo does not match" in str(error.value)
    assert "fuzzy entries, not shown" in err.getvalue() and "'Buscar'" in err.getvalue()


def test_home_page_in_english(client, catalog):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in html
    assert "Skip to main content" in html
    assert "Search for a procedure" in html
    assert nav_labels(html) == ["Procedures", "Check a case file", "Sign in"]
    for spanish in SPANISH_NAV:
        assert spanish not in html


def test_procedure_page_in_english(client, catalog):
    proc = catalog.order_by("agency__code", "code").first()
    url = reverse("catalog:procedure", args=[proc.agency.code, proc.code])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Who it is for" in html and "How much it costs" in html
    assert "Para quién es" not in html and "Cuánto cuesta" not in html
    for spanish in SPANISH_NAV[:3]:
        assert spanish not in html
    # A label marked with N_ in the code and translated when shown.
    spanish_label = APPROVAL_LABELS[proc.current_version.file.approval]
    with translation.override("en"):
        english_label = translation.gettext(spanish_label)
    assert english_label != spanish_label
    assert english_label in html.replace("&#x27;", "'")


def test_signed_in_menu_in_english(web, catalog):
    html = web.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert nav_labels(html) == [
        "Procedures",
        "Check a case file",
        "My case files",
        "Mailbox",
        "My account",
        "Sign out",
    ]


@pytest.mark.parametrize("signed_in", [False, True])
def test_quechua_pages_show_quechua(client, web, catalog, signed_in):
    browser = web if signed_in else client
    response = browser.get("/", HTTP_ACCEPT_LANGUAGE="qu")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="qu">' in html
    assert quechua("Saltar al contenido principal") in html
    assert "Saltar al contenido principal" not in html
    labels = nav_labels(html)
    assert all(labels), f"an empty menu item: {labels}"
    expected = ["Mañakuykuna", "Expediente nisqata qhaway"]
    expected += (
        ["Expediente nisqaykuna", "Casilla nisqa", "Rakiqunay", "Lluqsiy"]
        if signed_in
        else ["Yaykuy"]
    )
    assert labels == expected
    for spanish in SPANISH_NAV:
        assert spanish not in html
    proc = catalog.order_by("agency__code", "code").first()
    page = browser.get(
        reverse("catalog:procedure", args=[proc.agency.code, proc.code]), HTTP_ACCEPT_LANGUAGE="qu"
    ).content.decode()
    assert "Pipaqmi" in page and "Hayk'ataq chanin" in page
    assert "Para quién es" not in page and "Cuánto cuesta" not in page


def test_quechua_falls_back_to_spanish_for_what_has_no_translation():
    catalogue = parse_po(QU_PO)
    untranslated = [e.msgid for e in catalogue.messages if not e.started]
    assert untranslated, "nothing left to fall back on: pick another check"
    for msgid in untranslated:
        assert quechua(msgid) == msgid
    assert quechua("Oficina") == "Oficina"  # officials' pages stay Spanish for now
    assert quechua("Buscar") == "Maskay"


def test_set_language_to_an_unknown_code_keeps_spanish(catalog):
    browser = Client()
    response = browser.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    html = browser.get("/").content.decode()
    assert '<html lang="es">' in html
    assert "Saltar al contenido principal" in html
    assert nav_labels(html) == ["Trámites", "Consultar un expediente", "Ingresar"]


def test_set_language_to_english_switches_the_pages(catalog):
    browser = Client()
    response = browser.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    html = browser.get("/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="en">' in html
    assert "Skip to main content" in html
