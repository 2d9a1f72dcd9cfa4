"""``tambo demo``: load the demo catalogue, keys, accounts and expedientes (idempotent)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tambo.cases import actions, transitions
from tambo.cases.models import Filing
from tambo.catalog.loader import load_directory
from tambo.catalog.models import Agency, Procedure
from tambo.demo.samples import MINIMAL_PDF, file_fields, sample_answers
from tambo.identity.models import Appointment, User

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

    def handle(self, *args, catalog: Path, **options):
        report = load_directory(catalog)
        self.stdout.write(
            f"catalogue: {report.versions_created} new procedure versions, {report.unchanged} unchanged"
        )
        call_command("keys", "demo", stdout=self.stdout)
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
        self.stdout.write(
            self.style.SUCCESS(
                f"demo logins (password for all: {DEMO_PASSWORD}): citizens {', '.join(c[0] for c in CITIZENS)}; "
                f"officials of MDSI {', '.join(o[0] for o in OFFICIALS)}; oficial-mtc, oficial-osiptel; "
                "intermediary tambo (assisted filing); "
                "admin (Django admin at /admin/)"
            )
        )

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
        self.stdout.write(f"filed {len(STORY)} demo expedientes")
