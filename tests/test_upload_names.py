"""The multipart parser that marks files sent with a path-traversal name (tambo/core/upload_names.py).

The end-to-end refusals (web form, API, verification, assisted scan) are in
tests/test_hostile_uploads.py; these tests pin the rule and the parser's bookkeeping.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpResponse
from django.test import RequestFactory

from tambo.core.upload_names import (
    PLACEHOLDER_NAME,
    UploadNameMiddleware,
    is_traversal,
    sent_path,
)

BOUNDARY = "----tambo-names-boundary"


@pytest.mark.parametrize(
    ("name", "traversal"),
    [
        ("x.pdf", False),
        ("mi constancia (1).pdf", False),
        ("C:\\Users\\rosa\\x.pdf", False),  # old Internet Explorer: the file the person picked
        ("C:x.pdf", False),
        ("documentos/x.pdf", False),
        ("./x.pdf", False),
        ("x..pdf", False),
        ("..x.pdf", False),
        ("../x.pdf", True),
        ("..\\x.pdf", True),
        ("a/b/../../x.pdf", True),
        ("C:\\Users\\rosa\\..\\x.pdf", True),
        ("..", True),
        ("../", True),
        (".. /x.pdf", True),  # Windows drops trailing spaces and dots of a component
        ("... \\x.pdf", True),
        ("/etc/x.pdf", True),
        ("\\x.pdf", True),
        ("\\\\servidor\\compartido\\x.pdf", True),
        ("//servidor/compartido/x.pdf", True),
        ("..&#47;x.pdf", True),  # Django decodes HTML character references in names
        ("&#x2F;etc&#x2F;x.pdf", True),
        (".\u200b./x.pdf", True),  # and drops invisible characters
    ],
)
def test_what_counts_as_traversal(name, traversal):
    assert is_traversal(name) is traversal


def body(*files: tuple[str, str, bytes]) -> bytes:
    parts = [
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
            f"filename*=UTF-8''{quote(name, safe='')}\r\n"
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
        for field, name, data in files
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="nota"\r\n\r\nhola\r\n'.encode()
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def parsed_request(data: bytes):
    """A request as the middleware leaves it for the view."""
    request = RequestFactory().post(
        "/", data=data, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    seen = []
    UploadNameMiddleware(lambda r: seen.append(r) or HttpResponse())(request)
    return seen[0]


def test_each_file_carries_only_its_own_sent_name():
    request = parsed_request(
        body(
            ("a", "limpio.pdf", b"%PDF-a"),
            ("b", "../../b.pdf", b"%PDF-b"),
            ("c", "C:\\Users\\rosa\\c.pdf", b"%PDF-c"),
            ("d", "..", b"%PDF-d"),
            ("e", "otro.pdf", b"%PDF-e"),
        )
    )
    files = request.FILES
    assert [files[k].name for k in "abcde"] == [
        "limpio.pdf",
        "b.pdf",
        "c.pdf",
        PLACEHOLDER_NAME,  # Django would have dropped it; it must reach the view to be refused
        "otro.pdf",
    ]
    assert [sent_path(files[k]) for k in "abcde"] == [None, "../../b.pdf", None, "..", None]
    assert files["b"].read() == b"%PDF-b"
    assert request.POST["nota"] == "hola"


def test_the_upload_handlers_the_view_chose_are_used_and_then_frozen():
    request = RequestFactory().post(
        "/",
        data=body(("a", "../a.pdf", b"%PDF-a")),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )

    def view(request):
        request.upload_handlers = [TemporaryFileUploadHandler(request)]
        upload = request.FILES["a"]
        assert isinstance(upload, TemporaryUploadedFile)
        assert sent_path(upload) == "../a.pdf"
        with pytest.raises(AttributeError):
            request.upload_handlers.append(TemporaryFileUploadHandler(request))
        upload.close()
        return HttpResponse()

    UploadNameMiddleware(view)(request)


def test_without_a_chosen_handler_the_settings_handlers_are_used(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10**6
    small = parsed_request(body(("a", "/a.pdf", b"%PDF-a"))).FILES["a"]
    assert isinstance(small, InMemoryUploadedFile) and sent_path(small) == "/a.pdf"
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1
    large = parsed_request(body(("a", "/a.pdf", b"%PDF-a"))).FILES["a"]
    assert isinstance(large, TemporaryUploadedFile) and sent_path(large) == "/a.pdf"
    large.close()


def test_the_middleware_runs_before_anything_reads_the_body():
    middleware = settings.MIDDLEWARE
    ours = middleware.index("tambo.core.upload_names.UploadNameMiddleware")
    assert ours < middleware.index("django.middleware.csrf.CsrfViewMiddleware")
    assert ours == 1  # only the request context (id, access log) comes first; it never reads it
