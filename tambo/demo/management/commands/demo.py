"""``tambo demo``: load the demo catalogue, accounts and expedientes (idempotent)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from tambo.cases import actions
from tambo.cases.models import Filing, FilingStatus
from tambo.catalog.loader import load_directory
from tambo.catalog.models import Procedure
from tambo.demo.samples import MINIMAL_PDF, file_fields, sample_answers
from tambo.identity.models import User

DEMO_PASSWORD = "tambo-demo-2026"  # noqa: S105 - published demo logins, development only
CITIZENS = [
    ("ana", "Ana", "Quispe Mamani", "45123678", "ana@example.pe", "es"),
    ("jose", "José", "Huamán Ccori", "41234987", "jose@example.pe", "qu"),
    ("maria", "María", "Torres Díaz", "70456123", "maria@example.pe", "en"),
]
# (citizen, agency, procedure code prefix, final status)
STORY = [
    ("ana", FilingStatus.RECEIVED),
    ("ana", FilingStatus.IN_EVALUATION),
    ("ana", FilingStatus.APPROVED),
    ("jose", FilingStatus.OBSERVED),
    ("jose", FilingStatus.RECEIVED),
    ("maria", FilingStatus.DENIED),
    ("maria", FilingStatus.IN_REVIEW),
]


class Command(BaseCommand):
    help = "Load demo agencies, procedures, citizens and expedientes in different states."

    def add_arguments(self, parser):
        parser.add_argument("--catalog", type=Path, default=settings.TAMBO_CATALOG_DIR)

    def handle(self, *args, catalog: Path, **options):
        report = load_directory(catalog)
        self.stdout.write(
            f"catalogue: {report.versions_created} new procedure versions, "
            f"{report.unchanged} unchanged"
        )
        admin, created = User.objects.get_or_create(
            username="admin",
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.pe"},
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        citizens = {}
        for username, first, last, dni, email, lang in CITIZENS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "document_type": "dni",
                    "document_number": dni,
                    "email": email,
                    "language": lang,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            citizens[username] = user
        if not Filing.objects.exists():
            self._file_demo_cases(citizens, admin)
        self.stdout.write(
            self.style.SUCCESS(
                f"demo logins (password for all: {DEMO_PASSWORD}): admin (Django admin at "
                f"/admin/), {', '.join(c[0] for c in CITIZENS)}"
            )
        )

    def _file_demo_cases(self, citizens: dict[str, User], admin: User) -> None:
        rng = random.Random(2026)  # noqa: S311 - demo data
        procedures = list(
            Procedure.objects.select_related("current_version", "agency").order_by(
                "agency__code", "code"
            )
        )
        for index, (username, status) in enumerate(STORY):
            procedure = procedures[(index * 3) % len(procedures)]
            version = procedure.current_version
            citizen = citizens[username]
            draft = actions.start_draft(citizen, version)
            actions.save_answers(citizen, draft.pk, sample_answers(version.file, rng))
            for field in file_fields(version.file):
                actions.attach_document(
                    citizen, draft.pk, field.name, io.BytesIO(MINIMAL_PDF), f"{field.name}.pdf"
                )
            filing = actions.submit_draft(citizen, draft.pk).filing
            path = {
                FilingStatus.IN_REVIEW: [FilingStatus.IN_REVIEW],
                FilingStatus.OBSERVED: [FilingStatus.IN_REVIEW, FilingStatus.OBSERVED],
                FilingStatus.IN_EVALUATION: [FilingStatus.IN_REVIEW, FilingStatus.IN_EVALUATION],
                FilingStatus.APPROVED: [
                    FilingStatus.IN_REVIEW,
                    FilingStatus.IN_EVALUATION,
                    FilingStatus.APPROVED,
                ],
                FilingStatus.DENIED: [
                    FilingStatus.IN_REVIEW,
                    FilingStatus.IN_EVALUATION,
                    FilingStatus.DENIED,
                ],
            }.get(status, [])
            for step in path:
                with transaction.atomic():
                    actions.change_status(admin, filing, step, note="demo")
        self.stdout.write(f"filed {len(STORY)} demo expedientes")
