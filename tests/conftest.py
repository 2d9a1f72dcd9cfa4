"""Shared fixtures: the demo catalogue, citizens, API clients, sample files."""

from __future__ import annotations

import io
import random
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from tambo.catalog.loader import load_directory
from tambo.catalog.models import Procedure
from tambo.demo.samples import MINIMAL_PDF, sample_answers
from tambo.identity.models import ApiToken, User

REPO = Path(__file__).resolve().parent.parent
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e2b1b1a30000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def fresh_process_caches():
    """Each test starts without the per-process caches another test's data filled."""
    from tambo.catalog.queries import forget_cached_catalog

    forget_cached_catalog()
    cache.clear()  # rate-limit counters
    yield
    forget_cached_catalog()


@pytest.fixture
def catalog(db):
    """The demo catalogue (agencies and procedures from the repository's catalog/)."""
    if not Procedure.objects.exists():
        load_directory(settings.TAMBO_CATALOG_DIR)
    return Procedure.objects.select_related("current_version", "agency")


def make_citizen(username: str, dni: str) -> User:
    user = User.objects.create_user(
        username=username,
        password="a-long-test-password",
        first_name=username.capitalize(),
        last_name="Prueba",
        document_type="dni",
        document_number=dni,
        email=f"{username}@example.pe",
    )
    return user


@pytest.fixture
def citizen(db) -> User:
    return make_citizen("rosa", "40123456")


@pytest.fixture
def other_citizen(db) -> User:
    return make_citizen("pedro", "40999888")


@pytest.fixture
def web(citizen) -> Client:
    client = Client()
    client.force_login(citizen)
    return client


def token_client(user: User) -> Client:
    _token, raw = ApiToken.issue(user, "tests")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def api(citizen) -> Client:
    return token_client(citizen)


@pytest.fixture
def other_api(other_citizen) -> Client:
    return token_client(other_citizen)


def procedure(code: str, agency: str | None = None) -> Procedure:
    qs = Procedure.objects.select_related("current_version", "agency").filter(code=code)
    if agency:
        qs = qs.filter(agency__code=agency)
    return qs.first()


def with_file_field(catalog) -> Procedure:
    """A procedure whose form has at least one required file field."""
    for proc in catalog.order_by("agency__code", "code"):
        if any(f.type == "file" and f.required for f in proc.current_version.file.form):
            return proc
    raise AssertionError("the demo catalogue has no procedure with a required file")


def without_file_field(catalog) -> Procedure:
    """A procedure that can be filed with answers only."""
    for proc in catalog.order_by("agency__code", "code"):
        if not any(f.type == "file" and f.required for f in proc.current_version.file.form):
            return proc
    raise AssertionError("the demo catalogue has no procedure without required files")


def answers_for(proc: Procedure, seed: int = 1) -> dict:
    return sample_answers(proc.current_version.file, random.Random(seed))


def pdf_upload(name: str = "plano.pdf") -> io.BytesIO:
    stream = io.BytesIO(MINIMAL_PDF)
    stream.name = name
    return stream


@pytest.fixture(scope="session", autouse=True)
def demo_pki():
    """The demo certificate authority, one signing key per demo agency and the audit checkpoint
    key, for the whole run."""
    from tambo.documents.keys import clear_signer_cache, create_demo_pki

    create_demo_pki(
        settings.TAMBO_SIGNING_KEYS,
        {
            "MDSI": "Municipalidad Distrital de San Isidro",
            "MTC": "Ministerio de Transportes y Comunicaciones",
            "OSIPTEL": "Organismo Supervisor de Inversión Privada en Telecomunicaciones",
        },
    )
    clear_signer_cache()
    from tambo.core import keyfile

    keyfile.create(settings.TAMBO_CHECKPOINT_KEY)
    return settings.TAMBO_SIGNING_KEYS


def make_official(
    username: str, agency_code: str, roles: list[str], units: list[str] | None = None
) -> User:
    """An official with ``roles`` in the given units (all the agency's units by default)."""
    from tambo.catalog.models import OrgUnit
    from tambo.identity.models import Appointment

    user = User.objects.create_user(
        username=username,
        password="a-long-test-password",
        first_name=username.capitalize(),
        last_name="Oficial",
    )
    qs = OrgUnit.objects.filter(agency__code=agency_code)
    if units is not None:
        qs = qs.filter(code__in=units)
    for unit in qs:
        for role in roles:
            Appointment.objects.create(user=user, unit=unit, role=role)
    return user


def _flush_as_superuser() -> None:
    """Let the test runner's flush (TRUNCATE of every table between transactional tests)
    pass the audit tables' BEFORE TRUNCATE trigger: it runs with
    ``session_replication_role = replica`` for its own transaction, which only the
    database superuser the tests connect as may set, as ``bypassing_append_only`` does."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush
    if getattr(original, "tambo_replica", False):
        return

    def execute_sql_flush(self, sql_list):
        if sql_list:
            sql_list = ["SET LOCAL session_replication_role = replica", *sql_list]
        return original(self, sql_list)

    execute_sql_flush.tambo_replica = True
    DatabaseOperations.execute_sql_flush = execute_sql_flush


_flush_as_superuser()


@contextmanager
def bypassing_append_only():
    """Switch the audit tables' append-only triggers off for this session, as a database
    superuser could (``session_replication_role = replica``): what tamper tests simulate.
    On SQLite there is no trigger to bypass."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")


def enrol_totp(user: User):
    """Give ``user`` a confirmed authenticator device (what the enrolment page creates)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Autenticador", confirmed=True)


def totp_code(device, *, refresh: bool = True) -> str:
    """The code an authenticator app shows now for ``device`` (the next step if now's is used).
    ``refresh=False`` where the database may not be read (inside Playwright's event loop)."""
    from django_otp.oath import TOTP

    if refresh:
        device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if device.last_t is not None and device.last_t >= totp.t():
        totp.drift += device.last_t - totp.t() + 1  # still inside django-otp's tolerance
    return f"{totp.token():0{device.digits}d}"


def login_official(client: Client, user: User, password: str = "a-long-test-password") -> Client:  # noqa: S107
    """Log an official in as a person does: password, then a real TOTP code."""
    device = enrol_totp(user)
    response = client.post("/ingresar/", {"username": user.username, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    assert response["Location"].startswith("/ingresar/segundo-factor/")
    verified = client.post("/ingresar/segundo-factor/", {"code": totp_code(device)})
    assert verified.status_code == 302, verified.content.decode()[:500]
    return client


def official_client(user: User) -> Client:
    return login_official(Client(), user)


@pytest.fixture
def admin_client(admin_user) -> Client:
    """pytest-django's admin client, logged in with password and second factor (staff need it)."""
    return login_official(Client(), admin_user, password="password")


@pytest.fixture
def agencies(settings, tmp_path):
    """Two agencies (MDSI, MTC) in a registry of their own, each with its exchange key."""
    from tambo.exchange import keys
    from tambo.exchange.registry import write_agency

    settings.TAMBO_EXCHANGE_AGENCIES = tmp_path / "agencies.yaml"
    settings.TAMBO_SIGNING_KEYS = tmp_path / "keys"
    for code in ("MDSI", "MTC"):
        write_agency(code, "https://node.example", keys.create_key(code))
