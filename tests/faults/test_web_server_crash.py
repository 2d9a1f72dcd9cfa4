"""(a) The web server is killed (SIGKILL, master and workers) twice during 1,000 concurrent filings.

Clients retry every step until it answers 2xx, re-sending the same Idempotency-Key, as the API
documentation tells them to. Afterwards: every filing that got a 2xx is present with the
answers and the document (same SHA-256, on disk) it was sent with; each key has exactly one
expediente; the numbers of each agency are gapless; no document row or stored file is left
without its owner once the sweep's cleanup has run; the audit chain verifies.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tambo.demo.samples import MINIMAL_PDF

from .harness import Answer, Gunicorn, call, multipart, tambo

pytestmark = pytest.mark.faults

FILINGS = 1000
WITH_DOCUMENT_EVERY = 10  # one filing in ten goes draft -> upload -> submit
CLIENTS = 16
KILL_AFTER = (300, 650)  # completed filings before each crash
# Statuses a client may see while the server is down or restarting, and retry after.
RETRYABLE = {0, 502, 503}


@dataclass
class Job:
    index: int
    token: str
    key: str
    with_document: bool
    pdf: bytes = b""
    draft: str | None = None
    number: str | None = None
    answers_seen: list[int] = field(default_factory=list)
    tries: int = 0


def _pdf(index: int) -> bytes:
    # A distinct, valid PDF per filing: a comment line after the header changes the digest.
    head, rest = MINIMAL_PDF.split(b"\n", 1)
    return head + f"\n%tambo-fault-{index}-{uuid.uuid4().hex}\n".encode() + rest


def test_kill_9_of_the_web_server_during_1000_filings_loses_and_duplicates_nothing(site, tmp_path):
    env = site.env()
    server = Gunicorn(env, workers=3, log=tmp_path / "gunicorn.log")
    server.start()
    port = server.port
    jobs = [
        Job(i, site.tokens[i % len(site.tokens)], str(uuid.uuid4()), i % WITH_DOCUMENT_EVERY == 0)
        for i in range(FILINGS)
    ]
    for job in jobs:
        if job.with_document:
            job.pdf = _pdf(job.index)
    done = Counter()
    unexpected: list[str] = []
    lock = threading.Lock()

    def until_2xx(
        job: Job, method: str, path: str, body: bytes, content_type: str, **headers
    ) -> Answer:
        while True:
            job.tries += 1
            answer = call(
                port, method, path, body=body, timeout=30,
                headers={"Authorization": f"Bearer {job.token}", "Content-Type": content_type, **headers},
            )  # fmt: skip
            job.answers_seen.append(answer.status)
            if 200 <= answer.status < 300:
                return answer
            if answer.status not in RETRYABLE:
                with lock:
                    unexpected.append(
                        f"job {job.index} {method} {path}: {answer.status} {answer.body!r:.300}"
                    )
                raise AssertionError(unexpected[-1])
            time.sleep(0.2)

    def run(job: Job) -> None:
        if job.with_document:
            spec = site.with_file
            draft = until_2xx(
                job, "POST", "/api/v1/drafts",
                json.dumps({"agency": spec["agency"], "procedure": spec["procedure"]}).encode(),
                "application/json",
            )  # fmt: skip
            job.draft = draft.body["id"]
            until_2xx(
                job,
                "PATCH",
                f"/api/v1/drafts/{job.draft}",
                json.dumps({"answers": spec["answers"]}).encode(),
                "application/json",
            )
            body, content_type = multipart("file", "plano.pdf", job.pdf, "application/pdf")
            until_2xx(
                job,
                "POST",
                f"/api/v1/drafts/{job.draft}/documents/{spec['field']}",
                body,
                content_type,
            )
            filed = until_2xx(
                job,
                "POST",
                f"/api/v1/drafts/{job.draft}/submit",
                b"",
                "application/json",
                **{"Idempotency-Key": job.key},
            )
        else:
            filed = until_2xx(
                job,
                "POST",
                "/api/v1/filings",
                json.dumps(site.plain).encode(),
                "application/json",
                **{"Idempotency-Key": job.key},
            )
        job.number = filed.body["number"]
        with lock:
            done["filed"] += 1

    servers = [server]

    def crasher() -> None:
        for threshold in KILL_AFTER:
            while done["filed"] < threshold and not unexpected and not finished.is_set():
                time.sleep(0.05)
            if unexpected or finished.is_set():
                return
            servers[-1].kill9()
            with lock:
                done["crashes"] += 1
            time.sleep(1.0)
            replacement = Gunicorn(env, workers=3, log=tmp_path / "gunicorn.log", port=port)
            replacement.start()
            servers.append(replacement)

    started = time.monotonic()
    finished = threading.Event()
    killer = threading.Thread(target=crasher)
    killer.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            for future in [pool.submit(run, job) for job in jobs]:
                future.result(timeout=900)
    finally:
        finished.set()
        killer.join(timeout=120)
        servers[-1].stop()
    elapsed = time.monotonic() - started
    assert not unexpected, unexpected[:5]
    assert done["crashes"] == len(KILL_AFTER), "the server was not killed as planned"
    interrupted = sum(1 for job in jobs if any(s in RETRYABLE for s in job.answers_seen))
    print(f"\n{FILINGS} filings in {elapsed:.1f} s through {len(KILL_AFTER)} kill -9; "
          f"{interrupted} had to retry")  # fmt: skip
    assert interrupted > 0, "no filing met a crash: the test proved nothing"

    # Recovery as deployed: the hourly `tambo sweep` removes what a kill left without an owner
    # (files stored before their row committed, unlinked rows whose after-commit delete never
    # ran). It runs here at once (grace 0: no upload is in flight any more); everything below
    # is checked after it, so it cannot hide a lost or damaged document.
    recovery = tambo(env, "sweep", "--no-documents", "--orphans-older-than", "0")
    print(recovery.strip())
    db = site.database
    sql = site.cluster.sql
    rows = json.loads(sql(
        "SELECT coalesce(json_agg(json_build_object('key', f.idempotency_key, 'number', f.number, "
        "'citizen', f.citizen_id, 'answers', f.answers, 'docs', (SELECT coalesce(json_agg("
        "json_build_object('sha', d.sha256, 'file', d.file, 'size', d.size)), '[]') "
        "FROM cases_document d WHERE d.filing_id = f.id))), '[]') FROM cases_filing f", db))  # fmt: skip
    by_key = {row["key"]: row for row in rows}
    # Present, once, intact.
    assert len(rows) == FILINGS, f"{len(rows)} expedientes for {FILINGS} filings"
    assert len(by_key) == FILINGS, "an Idempotency-Key has two expedientes"
    media = Path(env["TAMBO_MEDIA_ROOT"])
    for job in jobs:
        row = by_key.get(job.key)
        assert row is not None, f"filing {job.index} answered {job.number} but is missing"
        assert row["number"] == job.number, (
            f"filing {job.index}: answered {job.number}, stored {row['number']}"
        )
        sent = site.with_file if job.with_document else site.plain
        assert row["answers"] == sent["stored"], f"filing {job.index}: answers changed"
        if job.with_document:
            assert len(row["docs"]) == 1, f"filing {job.index}: {len(row['docs'])} documents"
            doc = row["docs"][0]
            assert doc["sha"] == hashlib.sha256(job.pdf).hexdigest(), (
                f"filing {job.index}: wrong document"
            )
            stored = (media / doc["file"]).read_bytes()
            assert hashlib.sha256(stored).hexdigest() == doc["sha"], (
                f"filing {job.index}: file differs"
            )
        else:
            assert row["docs"] == []
    # Gapless numbers per agency and year, and the counter at the last one.
    gaps = sql(
        "SELECT string_agg(x, '; ') FROM (SELECT c.agency_id || '/' || c.year || ': ' || count(f.id) "
        "|| ' filed, counter ' || c.last || ', max ' "
        "|| coalesce(max(substring(f.number from '([0-9]+)$')::int), 0) AS x "
        "FROM cases_filingcounter c LEFT JOIN cases_filing f ON f.agency_id = c.agency_id "
        "AND f.number LIKE '%-' || c.year || '-%' GROUP BY c.agency_id, c.year, c.last "
        "HAVING count(f.id) <> c.last OR coalesce(max(substring(f.number from '([0-9]+)$')::int), 0) <> c.last) s",
        db,
    )  # fmt: skip
    assert not gaps, f"numbers with gaps: {gaps}"
    # No orphans: every document belongs to an expediente or a draft, every file to a row.
    loose = sql(
        "SELECT count(*) FROM cases_document WHERE filing_id IS NULL AND draft_id IS NULL", db
    )
    assert loose == "0", f"{loose} document rows belong to nothing"
    on_drafts = sql("SELECT count(*) FROM cases_document d WHERE d.filing_id IS NULL", db)
    assert on_drafts == "0", f"{on_drafts} documents left on drafts that were filed"
    names = set(
        sql("SELECT coalesce(string_agg(file, E'\\n'), '') FROM cases_document", db).split()
    )
    files = {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}
    assert files == names, (
        f"orphan files {sorted(files - names)[:5]}, missing files {sorted(names - files)[:5]}"
    )
    tambo(env, "audit", "verify")
