"""Refuse uploads whose name tries path traversal, instead of letting Django quietly trim it.

Django's multipart parser (``MultiPartParser.sanitize_file_name``) keeps only what follows the
last ``/`` or ``\\`` of a file's name, so ``../../etc/passwd.pdf`` reaches a view as
``passwd.pdf`` and no check after it can tell that anything was sent. That is safe for storage
(files are stored by id) but it accepts a hostile request as if it were ordinary, which the
hardening goal (every hostile file refused) does not allow.

Decision — what counts as traversal (:func:`is_traversal`), judged on the name as Django reads
it (HTML character references decoded, invisible characters removed):

- a ``..`` component, splitting on both ``/`` and ``\\``, also written ``.. `` or ``...``
  (Windows drops a component's trailing dots and spaces: these are no ordinary file names);
- a name that starts with a separator: an absolute POSIX path (``/etc/x.pdf``), a UNC path
  (``\\\\server\\share\\x.pdf``) or a Windows path from the drive's root (``\\x.pdf``).

A plain Windows full path such as ``C:\\Users\\rosa\\x.pdf`` is **not** traversal: old Internet
Explorer sends it for an ordinary file the person picked. It is still reduced to its base name
(``x.pdf``) as Django does. Refused names get :func:`traversal_message` on their field;
``tambo/cases/uploads.py: check_file`` does that for every stored upload, the verification
views for the files they read. See docs/security.md, "Uploads".

Mechanism: :class:`UploadNameMiddleware` (early in ``MIDDLEWARE``, before anything reads
``request.POST`` or ``request.FILES``) gives the request its own ``parse_file_upload``, which
``HttpRequest._load_post_and_files`` calls for every multipart body (WSGI, ASGI and the test
client alike). It parses with :class:`NameCheckingMultiPartParser`, which behaves as Django's
parser (same upload handlers, same base name) but marks each file whose sent name was
traversal with the name as sent (:func:`sent_path`). No Django global is patched.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from types import MethodType
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import ImmutableList, MultiValueDict
from django.utils.encoding import force_str
from django.utils.translation import gettext as _

# The attribute an uploaded file carries when the name it was sent with was traversal.
SENT_PATH_ATTR = "tambo_sent_path"
# What a traversal file is called when Django would have dropped it (``..``, ``../``): it
# must still reach the view, to be refused on its field rather than silently ignored.
PLACEHOLDER_NAME = "archivo"
_SEPARATORS = re.compile(r"[/\\]")


def readable_name(sent: str) -> str:
    """The name as Django's parser reads it before keeping its last part."""
    return "".join(ch for ch in html.unescape(sent) if ch.isprintable())


def is_traversal(name: str) -> bool:
    """Whether ``name`` tries to leave its directory (see the module docstring for the rule)."""
    name = readable_name(name)
    if name.startswith(("/", "\\")):
        return True
    return any(".." in part and not part.rstrip(". ") for part in _SEPARATORS.split(name))


def traversal_message() -> str:
    """The field error for a file whose name is a path that tries to leave its directory."""
    return _(
        "El nombre del archivo incluye una ruta de carpetas y no se puede aceptar. "
        "Cámbielo y adjúntelo otra vez."
    )


def sent_path(upload: object) -> str | None:
    """The traversal name ``upload`` was sent with, or ``None`` if its name was acceptable."""
    return getattr(upload, SENT_PATH_ATTR, None)


class NameCheckingMultiPartParser(MultiPartParser):
    """Django's parser, remembering the traversal name of each file it reads.

    Files are parsed one after another: ``sanitize_file_name`` sees a file's name, then its
    data goes to the upload handlers, then ``handle_file_complete`` receives the finished
    file, before the next part's name is read. The name judged last is therefore the name of
    the file being completed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent_path: str | None = None

    def sanitize_file_name(self, file_name: str) -> str | None:
        self._sent_path = readable_name(file_name) if is_traversal(file_name) else None
        kept = super().sanitize_file_name(file_name)
        if kept is None and self._sent_path is not None:
            return PLACEHOLDER_NAME
        return kept

    def handle_file_complete(self, old_field_name: str, counters: list[int]) -> None:
        sent, self._sent_path = self._sent_path, None
        key = force_str(old_field_name, self._encoding, errors="replace")
        before = len(self._files.getlist(key))
        super().handle_file_complete(old_field_name, counters)
        files = self._files.getlist(key)
        if sent is not None and len(files) > before:
            setattr(files[-1], SENT_PATH_ATTR, sent)


def parse_file_upload(
    request: HttpRequest, META: Any, post_data: Any
) -> tuple[Any, MultiValueDict[str, UploadedFile]]:
    """``HttpRequest.parse_file_upload`` with :class:`NameCheckingMultiPartParser`.

    It reads the request's upload handlers when the body is parsed (so a view that sets
    ``request.upload_handlers`` first is honoured) and freezes them as Django does.
    """
    request.upload_handlers = ImmutableList(
        request.upload_handlers,
        warning="You cannot alter upload handlers after the upload has been processed.",
    )
    parser = NameCheckingMultiPartParser(META, post_data, request.upload_handlers, request.encoding)
    return parser.parse()


class UploadNameMiddleware:
    """Parse every multipart body with :class:`NameCheckingMultiPartParser`.

    Must come before any middleware that reads ``request.POST`` (``CsrfViewMiddleware``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.parse_file_upload = MethodType(parse_file_upload, request)  # type: ignore[method-assign]
        return self.get_response(request)
