"""Agency signing keys: the per-agency PKCS#12 signers, the trust root, and a demo PKI.

Each agency signs with ``<AGENCY_CODE>.p12`` in ``settings.TAMBO_SIGNING_KEYS``, opened with
``settings.TAMBO_SIGNING_PASSWORD``. ``ca.pem`` in the same directory holds the certificate(s)
the verifier trusts as roots. ``create_demo_pki`` builds a self-contained demo PKI there
("Tambo Demo CA" and one certificate per agency) for development and the demo only: a real
deployment puts the agencies' own certificates (and their CA) in the directory instead.

Signers and trust roots are cached per process; the cache key includes the file's path,
modification time and the password, so a replaced key file is picked up without a restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.utils.translation import gettext as _
from pyhanko.sign.signers import SimpleSigner

from .errors import SigningUnavailable

log = logging.getLogger(__name__)

CA_NAME = "Tambo Demo CA"
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CA_YEARS = 10
AGENCY_CERT_YEARS = 5
AGENCY_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")

_lock = threading.Lock()
_signers: dict[tuple[str, int, str], SimpleSigner] = {}
_roots: dict[tuple[str, int], list[asn1_x509.Certificate]] = {}


def keys_dir() -> Path:
    return Path(settings.TAMBO_SIGNING_KEYS)


def key_path(agency_code: str, directory: Path | None = None) -> Path:
    """The PKCS#12 file of an agency (the code is checked: it becomes a file name)."""
    if not AGENCY_CODE_RE.match(agency_code or ""):
        raise SigningUnavailable(
            _("Código de entidad no válido para una llave de firma: %(code)r.")
            % {"code": agency_code}
        )
    return (directory or keys_dir()) / f"{agency_code}.p12"


def _password_tag(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def certificate_sha256(cert: asn1_x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding (hex): how the register names a signer."""
    return hashlib.sha256(cert.dump()).hexdigest()


# --- Loading --------------------------------------------------------------------------------


def agency_password(agency_code: str) -> str:
    """The password of the agency's PKCS#12 file.

    ``TAMBO_SIGNING_KEY_<CODE>_PASSWORD`` (code upper-cased, ``-`` as ``_``) when an agency
    has its own, else the shared ``TAMBO_SIGNING_PASSWORD``.
    """
    variable = f"TAMBO_SIGNING_KEY_{agency_code.upper().replace('-', '_')}_PASSWORD"
    return os.environ.get(variable) or settings.TAMBO_SIGNING_PASSWORD


def load_signer(agency_code: str) -> SimpleSigner:
    """The agency's signer, from ``<code>.p12``; raises :class:`SigningUnavailable`."""
    path = key_path(agency_code)
    password = agency_password(agency_code)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        log.error("signing key of agency %s not found at %s", agency_code, path)
        raise SigningUnavailable(
            _(
                "No hay llave de firma para la entidad %(code)s: falta el archivo %(file)s "
                "en el directorio de llaves (TAMBO_SIGNING_KEYS)."
            )
            % {"code": agency_code, "file": path.name}
        ) from None
    cache_key = (str(path), mtime, _password_tag(password))
    with _lock:
        cached = _signers.get(cache_key)
    if cached is not None:
        return cached
    try:
        signer = SimpleSigner.load_pkcs12_data(
            path.read_bytes(), other_certs=[], passphrase=password.encode("utf-8")
        )
    except (OSError, ValueError) as exc:
        log.error("signing key of agency %s at %s cannot be opened: %s", agency_code, path, exc)
        raise SigningUnavailable(
            _(
                "No se pudo abrir la llave de firma de la entidad %(code)s (%(file)s): la "
                "contraseña (TAMBO_SIGNING_PASSWORD) no corresponde o el archivo está dañado."
            )
            % {"code": agency_code, "file": path.name}
        ) from None
    with _lock:
        # Forget older versions of the same file (replaced key or password).
        for stale in [k for k in _signers if k[0] == cache_key[0]]:
            del _signers[stale]
        _signers[cache_key] = signer
    return signer


def trust_roots() -> list[asn1_x509.Certificate]:
    """The certificates in ``ca.pem`` (one or more, PEM); empty if the file is missing."""
    path = keys_dir() / CA_CERT_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        log.warning("no trust root at %s: no signature will be trusted by chain", path)
        return []
    cache_key = (str(path), mtime)
    with _lock:
        cached = _roots.get(cache_key)
    if cached is not None:
        return cached
    data = path.read_bytes()
    roots = [
        asn1_x509.Certificate.load(der)
        for _type, _headers, der in pem.unarmor(data, multiple=True)
        if _type == "CERTIFICATE"
    ]
    with _lock:
        _roots.clear()
        _roots[cache_key] = roots
    return roots


def clear_signer_cache() -> None:
    """Forget every loaded signer and trust root (tests, key rotation)."""
    with _lock:
        _signers.clear()
        _roots.clear()


# --- The demo PKI -------------------------------------------------------------------------


@dataclass
class PkiReport:
    directory: Path
    created: list[str] = field(default_factory=list)  # file names written now
    kept: list[str] = field(default_factory=list)  # file names that already existed


def _write_exclusive(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Write ``path`` whole or not at all; never overwrite. False if it already exists."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)  # atomic, and fails if the name is taken
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def _fit(value: str, limit: int = 64) -> str:
    """X.520 names are limited to 64 (cryptography counts UTF-8 bytes); cut on a character."""
    return value.encode("utf-8")[:limit].decode("utf-8", errors="ignore").strip()


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "PE")]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(organization)))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, _fit(common_name)))
    return x509.Name(attributes)


def _new_ca(now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(CA_NAME, "Tambo")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _agency_cert(
    code: str, name: str, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, now: dt.datetime
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    not_after = min(now + dt.timedelta(days=365 * AGENCY_CERT_YEARS), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name or code, code))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _agency_names(agency_codes: Iterable[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(agency_codes, Mapping):
        return {code: (name or code) for code, name in agency_codes.items()}
    codes = list(agency_codes)
    from tambo.catalog.models import Agency

    names = dict(Agency.objects.filter(code__in=codes).values_list("code", "name"))
    return {code: names.get(code, code) for code in codes}


def _load_or_create_ca(
    directory: Path, password: bytes, now: dt.datetime, report: PkiReport
) -> tuple[rsa.RSAPrivateKey | None, x509.Certificate]:
    cert_path, key_file = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    if not cert_path.exists() and not key_file.exists():
        key, cert = _new_ca(now)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        if _write_exclusive(key_file, key_pem) and _write_exclusive(
            cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644
        ):
            report.created += [CA_CERT_FILE, CA_KEY_FILE]
            return key, cert
        # Another process created the CA at the same moment: use theirs.
    if not cert_path.exists():
        raise SigningUnavailable(
            f"El directorio de llaves {directory} tiene {CA_KEY_FILE} pero no {CA_CERT_FILE}."
        )
    report.kept.append(CA_CERT_FILE)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if not key_file.exists():
        return None, cert
    report.kept.append(CA_KEY_FILE)
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=password)
    except (TypeError, ValueError):
        raise SigningUnavailable(
            f"No se pudo abrir {CA_KEY_FILE} en {directory}: la contraseña "
            "(TAMBO_SIGNING_PASSWORD) no corresponde."
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SigningUnavailable(f"{CA_KEY_FILE} en {directory} no es una llave RSA.")
    return key, cert


def create_demo_pki(
    directory: Path | str,
    agency_codes: Iterable[str] | Mapping[str, str],
    *,
    password: str | None = None,
) -> PkiReport:
    """Create the demo CA (``ca.pem``, ``ca-key.pem``) and one ``<CODE>.p12`` per agency.

    ``agency_codes`` is a list of codes (names are read from the catalogue) or a mapping
    code -> agency name. Existing files are never overwritten, so this is idempotent; new
    agencies get a certificate from the existing CA. The password defaults to
    ``settings.TAMBO_SIGNING_PASSWORD``. Development and demo only.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    secret = (password if password is not None else settings.TAMBO_SIGNING_PASSWORD).encode()
    names = _agency_names(agency_codes)
    report = PkiReport(directory)
    now = dt.datetime.now(dt.UTC)
    ca_key, ca_cert = _load_or_create_ca(directory, secret, now, report)
    for code, name in sorted(names.items()):
        path = key_path(code, directory)
        if path.exists():
            report.kept.append(path.name)
            continue
        if ca_key is None:
            raise SigningUnavailable(
                f"No se puede emitir el certificado de {code}: falta {CA_KEY_FILE} en {directory}."
            )
        key, cert = _agency_cert(code, name, ca_key, ca_cert, now)
        data = pkcs12.serialize_key_and_certificates(
            name=code.encode(),
            key=key,
            cert=cert,
            cas=[ca_cert],
            encryption_algorithm=serialization.BestAvailableEncryption(secret),
        )
        (report.created if _write_exclusive(path, data) else report.kept).append(path.name)
    return report


def create_demo_keys() -> PkiReport:
    """The demo PKI in ``settings.TAMBO_SIGNING_KEYS`` for every agency in the database."""
    from tambo.catalog.models import Agency

    agencies = dict(Agency.objects.values_list("code", "name"))
    return create_demo_pki(keys_dir(), agencies)
