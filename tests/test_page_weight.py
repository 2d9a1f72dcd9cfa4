"""Each page of the filing journey weighs at most 100 KB transferred, static files as production serves them.

The test collects the static files with the production storage (WhiteNoise's
CompressedManifestStaticFilesStorage: hashed names, gzip and brotli copies) into a temporary
STATIC_ROOT, then starts a server whose WhiteNoise middleware reads those settings, exactly as
``tambo.settings.production`` does (no finders, no autorefresh, no Django static handler in
front). Chromium loads each page with its cache disabled and the test adds the bytes that
crossed the wire (headers and encoded body) for HTML, CSS, JavaScript and fonts; images and
uploaded files are excluded. Chromium asks for ``gzip, deflate, br`` as any browser does, so
the HTML is counted gzip-compressed by Django's GZipMiddleware (``responseBodySize`` is the
encoded size on the wire) and the stylesheet as WhiteNoise's brotli copy.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.db import connections
from django.test.testcases import LiveServerThread

from .site_pages import browser, build_site, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BUDGET_BYTES = 100 * 1024
COUNTED = {"document", "stylesheet", "script", "font"}
HASHED_CSS = re.compile(r"/static/css/tambo\.[0-9a-f]{12}\.css$")


@pytest.fixture
def production_static(settings, tmp_path):
    """collectstatic with the production storage into a temporary STATIC_ROOT."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings.STATIC_ROOT


@pytest.fixture
def production_server(production_static):
    """A live server whose only static handler is the app's own WhiteNoise middleware."""
    shared = {}
    for conn in connections.all():
        if conn.vendor == "sqlite" and conn.is_in_memory_db():
            shared[conn.alias] = conn
            conn.inc_thread_sharing()
    thread = LiveServerThread(
        "127.0.0.1", static_handler=lambda app: app, connections_override=shared, port=0
    )
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


def test_each_filing_journey_page_weighs_at_most_100_kb_with_compressed_versioned_static(
    production_server, catalog, capsys
):
    site = build_site(catalog, ["es"])
    base = production_server
    weights: dict[str, dict[str, int]] = {}
    static_headers: dict[str, dict[str, str]] = {}
    document_encodings: dict[str, str | None] = {}

    with browser() as chromium:
        page = new_page(chromium, base, "es")
        page.goto(f"{base}/ingresar/")
        page.fill("#field-username", "ana")
        page.fill("#field-password", "a-long-test-password")
        with page.expect_navigation():
            page.click("main button[type=submit]")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        responses: list = []
        page.on("response", lambda response: responses.append(response))

        def measure(name: str) -> None:
            page.wait_for_load_state("load")
            by_type: dict[str, int] = {}
            for response in responses:
                kind = response.request.resource_type
                if kind not in COUNTED:
                    continue
                sizes = response.request.sizes()
                by_type[kind] = (
                    by_type.get(kind, 0) + sizes["responseBodySize"] + sizes["responseHeadersSize"]
                )
                if kind != "document":
                    static_headers[response.url] = response.all_headers()
                elif response.request.is_navigation_request():
                    document_encodings[name] = response.all_headers().get("content-encoding")
            weights[name] = by_type
            responses.clear()

        page.goto(f"{base}/tramites/{site.agency}/{site.procedure}/")
        measure("procedure page")
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        measure("question page")
        with page.expect_navigation():
            page.click("button[name=continue]")
        measure("question page with errors")
        page.goto(f"{base}/borradores/{site.drafts['complete-es']}/")
        measure("question page, answered")
        page.locator("input[type=file]").first.set_input_files(
            {"name": "plano.pdf", "mimeType": "application/pdf", "buffer": b"no es un PDF"}
        )
        with page.expect_navigation():
            page.click("button[name=continue]")
        measure("upload with an error")
        page.goto(f"{base}/borradores/{site.drafts['complete-es']}/revisar/")
        measure("check your answers")
        with page.expect_navigation():
            page.click("main form[data-prevent-double-submit] button")
        measure("receipt")

    with capsys.disabled():
        print("\nPage weight of the filing journey (bytes on the wire, compressed, no cache):")
        for name, by_type in weights.items():
            detail = ", ".join(f"{kind} {size}" for kind, size in sorted(by_type.items()))
            print(f"  {name:28} {sum(by_type.values()):>7} B  ({detail})")
    assert len(weights) == 7
    over = {name: sum(t.values()) for name, t in weights.items() if sum(t.values()) > BUDGET_BYTES}
    assert not over, f"pages over the {BUDGET_BYTES}-byte budget: {over}"
    for name, by_type in weights.items():
        assert by_type.get("document", 0) > 0 and by_type.get("stylesheet", 0) > 0, name

    # The HTML itself travels compressed, as a browser receives it.
    assert document_encodings == dict.fromkeys(weights, "gzip"), document_encodings

    # The stylesheet is served under a versioned name, compressed and cached for good.
    assert static_headers, "no static file was requested"
    for url, headers in static_headers.items():
        assert HASHED_CSS.search(url), f"{url} is not a versioned name"
        assert headers.get("content-encoding") in {"br", "gzip"}, headers
        assert "immutable" in headers.get("cache-control", ""), headers
