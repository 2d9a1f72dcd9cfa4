"""Remove uploaded files and document rows that a crash left without an owner.

An upload is stored before its row commits, and a replaced or discarded document is deleted
after its unlinking commits (``actions._delete_after_commit``). If the process is killed
(``kill -9``, power loss) between the two, a file without a row, or an unlinked row
(neither draft nor expediente) with its file, remains. Nothing refers to them, so removing
them loses nothing; files younger than ``grace`` are kept because their upload may still be
in flight. ``tambo sweep`` runs this each time (hourly with the timer).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.files.storage import Storage

from tambo.core import clock

from .models import Document

log = logging.getLogger(__name__)
ROOT = "documents"


def _walk(storage: Storage, path: str):
    directories, files = storage.listdir(path)
    for name in files:
        yield f"{path}/{name}"
    for directory in directories:
        yield from _walk(storage, f"{path}/{directory}")


def remove_orphans(grace: dt.timedelta = dt.timedelta(hours=1)) -> tuple[int, int]:
    """Delete unlinked document rows and unreferenced files; returns ``(rows, files)``."""
    storage = Document.file.field.storage
    rows = 0
    for document in Document.objects.filter(draft__isnull=True, filing__isnull=True):
        # Re-checked in the DELETE, so a row linked again meanwhile is kept.
        if Document.objects.filter(
            pk=document.pk, draft__isnull=True, filing__isnull=True
        ).delete()[0]:
            storage.delete(document.file.name)
            rows += 1
    files = 0
    if not storage.exists(ROOT):
        return rows, files
    cutoff = clock.now() - grace
    for name in _walk(storage, ROOT):
        if Document.objects.filter(file=name).exists():
            continue
        if storage.get_modified_time(name) > cutoff:
            continue
        storage.delete(name)
        files += 1
    if rows or files:
        log.warning("removed %s unlinked document rows and %s orphan files", rows, files)
    return rows, files
