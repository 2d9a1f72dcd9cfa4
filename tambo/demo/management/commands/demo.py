"""``tambo demo``: load the demo catalogue, keys, accounts and expedientes (idempotent)."""

from __future__ import annotations

import hashlib
import io
import random
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tambo.cases import actions, transitions
from tambo.cases.models import Filing
from tambo.catalog.loader import load_directory
from tambo.catalog.models import Agency, Procedure
from tambo.demo.samples import MINIMAL_PDF, file_fields, sample_answers
from tambo.identity.models import Appointment, User
from tambo.identity.views import base32_secret

DEMO_PASSWORD = "tambo-demo-2026"  # noqa: S105 - published demo logins, development only
CITIZENS = [
    ("ana", "Ana", "Quispe Mamani", "45123678", "ana@example.pe", "es"),
    ("jose", "José", "Huamán Ccori", "41234987", "jose@example.pe", "qu"),
    ("maria", "María", "Torres Díaz", "70456123", "maria@example.pe", "en"),
]
# Officials of the demo municipality: (username, first name, last name, role).
OFFICIALS = [
    ("mesa", "Lucía", "Ramos", "front_desk"),
    ("evaluador", "Carlos", "Paredes", "evaluator"),
    ("firmante", "Rosa", "Villanueva", "signer"),
    ("supervisor", "Jorge", "Salazar", "supervisor"),
]
T = transitions.TransitionInput


def demo_totp_key(user: User) -> str:
    """A demo official's authenticator key (hex, 20 bytes), the same on every machine:
    demo data is public, like the demo password."""
    return hashlib.sha256(f"tambo-demo-totp:{user.username}".encode()).hexdigest()[:40]


# (citizen, the transitions that bring the expediente to its demo state)
STORY = [
    ("ana", []),
    ("ana", [("mesa", "admit", T())]),
    (
        "ana",
        [
            ("mesa", "admit", T()),
            ("evaluador", "propose", T(report="Cumple los requisitos del TUPA.")),
            (
                "firmante",
                "approve",
                T(reason="La solicitud cumple los requisitos y la zonificación."),
            ),
        ],
    ),
    ("jose", [("mesa", "observe", T(reason="Falta la declaración jurada firmada."))]),
    ("jose", []),
    (
        "maria",
        [
            ("mesa", "admit", T()),
            ("evaluador", "propose", T(report="La zonificación no lo permite.")),
            (
                "firmante",
                "deny",
                T(reason="El giro solicitado no es compatible con la zonificación."),
            ),
        ],
    ),
    (
        "maria",
        [
            ("mesa", "admit", T()),
            ("evaluador", "request_report", T(reason="Se pide opinión técnica.")),
        ],
    ),
]


class Command(BaseCommand):
    help = "Load demo agencies, procedures, signing keys, citizens, officials and expedientes."

    def add_arguments(self, parser):
        parser.add_argument("--catalog", type=Path, default=settings.TAMBO_CATALOG_DIR)
        parser.add_argument(
            "--scale",
            type=int,
            default=0,
            metavar="N",
            help="also generate expedientes in bulk until there are N of them, spread over every "
            "agency, unit and state, with one citizen per 20 (PostgreSQL only)",
        )
        parser.add_argument(
            "--node",
            default=settings.TAMBO_PUBLIC_URL,
            help="this node's base URL, listed in the exchange registry for every demo agency "
            "(default TAMBO_PUBLIC_URL)",
        )
        parser.add_argument(
            "--code",
            metavar="USERNAME",
            help="print the current second-factor code of a demo official and stop",
        )

    def _scale(self, target: int) -> None:
        from tambo.core import clock
        from tambo.demo import generate

        have = Filing.objects.filter(channel=generate.CHANNEL).count()
        if have >= target:
            self.stdout.write(f"scale: {have} generated expedientes already (wanted {target})")
            return
        started = time.monotonic()
        citizens = generate.make_citizens(max(1, target // 20))
        today = clock.now().astimezone(clock.LIMA).date()
        made = generate.generate_filings(target - have, today, citizens)
        self.stdout.write(
            f"scale: {made} expedientes generated for {len(citizens)} citizens "
            f"in {time.monotonic() - started:.1f} s"
        )

    def handle(
        self,
        *args,
        catalog: Path,
        scale: int = 0,
        code: str | None = None,
        node: str = "",
        **options,
    ):
        if code:
            self._print_code(code)
            return
        if scale:
            from tambo.demo.generate import require_postgresql

            try:
                require_postgresql()
            except RuntimeError as exc:
                raise CommandError(str(exc)) from None
        report = load_directory(catalog)
        self.stdout.write(
            f"catalogue: {report.versions_created} new procedure versions, {report.unchanged} unchanged"
        )
        call_command("keys", "demo", stdout=self.stdout)
        call_command("audit", "keygen", stdout=self.stdout)
        self._exchange_keys(node or settings.TAMBO_PUBLIC_URL)
        self._user("admin", "Admin", "Tambo", is_staff=True, is_superuser=True)
        citizens = {}
        for username, first, last, dni, email, lang in CITIZENS:
            citizens[username] = self._user(
                username,
                first,
                last,
                document_type="dni",
                document_number=dni,
                email=email,
                language=lang,
            )
        # José reads Quechua and also gets his notices by SMS (issue 6).
        User.objects.filter(pk=citizens["jose"].pk).update(phone="+51987000111", sms_notices=True)
        officials = {}
        municipality = Agency.objects.get(code="MDSI")
        # An intermediary at the municipality's front desk files for citizens who come in.
        helper = self._user("tambo", "Inés", "Condori", email="tambo@example.pe")
        Appointment.objects.get_or_create(
            user=helper, unit=municipality.units.get(code="MP"), role="intermediary"
        )
        for username, first, last, role in OFFICIALS:
            officials[username] = user = self._user(
                username, first, last, email=f"{username}@example.pe"
            )
            for unit in municipality.units.all():
                Appointment.objects.get_or_create(user=user, unit=unit, role=role)
        for agency in Agency.objects.exclude(code="MDSI"):
            user = self._user(f"oficial-{agency.code.lower()}", "Oficial", agency.code)
            for unit in agency.units.all():
                for role in ("front_desk", "evaluator", "signer", "supervisor"):
                    Appointment.objects.get_or_create(user=user, unit=unit, role=role)
        if not Filing.objects.exists():
            self._file_demo_cases(citizens, officials)
        if scale:
            self._scale(scale)
        call_command("audit", "checkpoint", stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"demo logins (password for all: {DEMO_PASSWORD}): citizens {', '.join(c[0] for c in CITIZENS)}; "
                f"officials of MDSI {', '.join(o[0] for o in OFFICIALS)}; oficial-mtc, oficial-osiptel; "
                "intermediary tambo (assisted filing); "
                "admin (Django admin at /admin/)"
            )
        )
        self._second_factors()

    def _exchange_keys(self, node: str) -> None:
        """One installation hosting every demo agency: each gets its exchange key on this node
        (under TAMBO_SIGNING_KEYS, i.e. var/keys/exchange) and its entry, with this node's URL,
        in the agencies file (TAMBO_EXCHANGE_AGENCIES, var/exchange/agencies.yaml). An agency
        the file places on another node, whose key this node lacks, is left alone."""
        from tambo.exchange import keys
        from tambo.exchange.registry import registry, write_agency

        hosted = []
        for agency in Agency.objects.order_by("code"):
            entry = registry().agency(agency.code)
            if entry is not None and not keys.hosts(agency.code):
                self.stdout.write(f"exchange: {agency.code} is hosted by {entry.node}; left alone")
                continue
            key_id, public_key = keys.ensure_key(agency.code)
            write_agency(agency.code, node, public_key, key_id=key_id)
            hosted.append(agency.code)
        self.stdout.write(
            f"exchange: {', '.join(hosted) or 'no agency'} on this node ({node}); registry "
            f"{settings.TAMBO_EXCHANGE_AGENCIES}"
        )

    def _second_factors(self) -> None:
        """Officials and staff need a second factor: give each an authenticator secret
        (the same on every run) and print it, so a person can add it to an app."""
        self.stdout.write(
            "officials' second factor: add the secret to an authenticator app (or run "
            "`tambo demo --code USERNAME` for the current code):"
        )
        needing = Q(appointments__active=True) | Q(is_staff=True)
        for user in User.objects.filter(needing).distinct().order_by("username"):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(
                    user=user, name="Autenticador", confirmed=True, key=demo_totp_key(user)
                )
            self.stdout.write(f"  {user.username}: {base32_secret(device)}  {device.config_url}")

    def _print_code(self, username: str) -> None:
        device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is None:
            raise CommandError(f"{username} has no second factor (is it a demo official?)")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")

    def _user(self, username: str, first: str, last: str, **fields) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, **fields}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _file_demo_cases(self, citizens: dict[str, User], officials: dict[str, User]) -> None:
        rng = random.Random(2026)  # noqa: S311 - demo data
        procedures = [
            p
            for p in Procedure.objects.select_related("current_version", "agency")
            .filter(agency__code="MDSI")
            .order_by("code")
            if p.current_version.approval != "automatic"
        ]
        for index, (username, steps) in enumerate(STORY):
            procedure = procedures[index % len(procedures)]
            version = procedure.current_version
            citizen = citizens[username]
            draft = actions.start_draft(citizen, version)
            actions.save_answers(citizen, draft.pk, sample_answers(version.file, rng))
            for field in file_fields(version.file):
                actions.attach_document(
                    citizen, draft.pk, field.name, io.BytesIO(MINIMAL_PDF), f"{field.name}.pdf"
                )
            filing = actions.submit_draft(citizen, draft.pk, data_consent=True).filing
            for official, transition, given in steps:
                transitions.take(officials[official], filing.number, transition, given)
        extra = self._once_only(citizens["ana"], officials, rng)
        self.stdout.write(f"filed {len(STORY) + extra} demo expedientes")

    def _once_only(self, citizen: User, officials: dict[str, User], rng: random.Random) -> int:
        """Ana holds an operating licence from MDSI and applies to MTC for an amateur radio
        authorisation: MTC obtains the licence from MDSI instead of asking her for it (the
        fetch runs in `tambo db_worker`, which `make run` starts beside the server)."""
        shop = Procedure.objects.filter(agency__code="MDSI", code="LF-RIESGO-BAJO").first()
        radio = Procedure.objects.filter(agency__code="MTC", code="RADIOAFICIONADO").first()
        if shop is None or radio is None:  # a catalogue without them (--catalog)
            return 0
        licence = self._file(citizen, shop, rng)
        for official, transition, given in [
            ("mesa", "admit", T()),
            ("evaluador", "propose", T(report="Cumple los requisitos del TUPA.")),
            ("firmante", "approve", T(reason="Giro compatible con la zonificación.")),
        ]:
            transitions.take(officials[official], licence.number, transition, given)
        self._file(citizen, radio, rng)
        return 2

    def _file(self, citizen: User, procedure: Procedure, rng: random.Random) -> Filing:
        """File ``procedure`` for ``citizen`` with sample answers and its required files."""
        version = procedure.current_version
        draft = actions.start_draft(citizen, version)
        actions.save_answers(citizen, draft.pk, sample_answers(version.file, rng))
        for field in file_fields(version.file):
            if field.required:  # an optional upload may be obtained from another agency
                actions.attach_document(
                    citizen, draft.pk, field.name, io.BytesIO(MINIMAL_PDF), f"{field.name}.pdf"
                )
        return actions.submit_draft(citizen, draft.pk, data_consent=True).filing
