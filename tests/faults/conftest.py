"""Fixtures of the fault tests (``make test-faults``): our own PostgreSQL cluster and databases.

Each test gets a fresh database copied from a template that is migrated, has the demo
catalogue and signing keys, and a few citizens with API tokens (``SETUP`` below).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .harness import Cluster, tambo, tambo_env

TEMPLATE = "tambo_faults_template"
CITIZENS = 8

# Run by `tambo shell` in the template: citizens with tokens, and what the clients need to file.
SETUP = f"""
import json, random
from tambo.catalog.models import Procedure
from tambo.catalog.answers import validate_answers
from tambo.demo.samples import sample_answers
from tambo.identity.models import ApiToken, User
out = {{"tokens": [], "plain": None, "with_file": None}}
for i in range({CITIZENS}):
    user = User.objects.create_user(f"faults-{{i}}", first_name="Prueba", last_name=str(i),
        document_type="dni", document_number=f"7{{i:07d}}", email=f"f{{i}}@example.pe")
    out["tokens"].append(ApiToken.issue(user, "faults")[1])
for proc in Procedure.objects.select_related("agency", "current_version").order_by("agency__code", "code"):
    form = proc.current_version.file.form
    files = [f for f in form if f.type == "file"]
    answers = sample_answers(proc.current_version.file, random.Random(7))
    # What the expediente must hold: the answers as the validator stores them.
    stored = validate_answers(proc.current_version.file, answers, {{f.name for f in files}})[0]
    entry = {{"agency": proc.agency.code, "procedure": proc.code, "answers": answers,
             "stored": json.loads(json.dumps(stored, default=str))}}
    if not files and out["plain"] is None:
        out["plain"] = entry
    required = [f for f in files if f.required]
    if len(required) == 1 and "pdf" in required[0].accepted_types and out["with_file"] is None:
        entry["field"] = required[0].name
        out["with_file"] = entry
print(json.dumps(out))
"""


@dataclass
class Site:
    cluster: Cluster
    database: str
    var_dir: Path
    tokens: list[str]
    plain: dict
    with_file: dict

    def env(self, **extra: str) -> dict[str, str]:
        return tambo_env(self.cluster, self.database, self.var_dir, **extra)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        cluster.init()
        cluster.sql(f"CREATE DATABASE {TEMPLATE}")
        var_dir = Path(tempfile.mkdtemp(prefix="tambo-faults-var-"))
        env = tambo_env(cluster, TEMPLATE, var_dir)
        tambo(env, "migrate", "--noinput", "-v", "0")
        tambo(env, "catalog", "load", env["TAMBO_CATALOG_DIR"])
        tambo(env, "keys", "demo")
        tambo(env, "collectstatic", "--noinput", "-v", "0")
        cluster.static = var_dir / "static"
        cluster.setup = json.loads(tambo(env, "shell", "-c", SETUP).strip().splitlines()[-1])
        assert cluster.setup["plain"] and cluster.setup["with_file"], cluster.setup
        cluster.keys = var_dir / "keys"
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def site(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Site]:
    """A fresh database (from the template) and var directory for one test."""
    database = "tambo_faults_" + request.node.name.lower()[:40].replace("[", "_").replace("]", "")
    cluster.sql(f"DROP DATABASE IF EXISTS {database}")
    cluster.sql(f"CREATE DATABASE {database} TEMPLATE {TEMPLATE}")
    var_dir = Path(tempfile.mkdtemp(prefix="tambo-faults-var-"))
    shutil.copytree(cluster.keys, var_dir / "keys")
    shutil.copytree(cluster.static, var_dir / "static")
    (var_dir / "media").mkdir()
    setup = cluster.setup
    yield Site(cluster, database, var_dir, setup["tokens"], setup["plain"], setup["with_file"])
    shutil.rmtree(var_dir, ignore_errors=True)
