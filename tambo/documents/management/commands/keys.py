"""``tambo keys demo``: create the demo signing keys (CA and one per agency), idempotently."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tambo.documents.errors import SigningUnavailable
from tambo.documents.keys import create_demo_keys


class Command(BaseCommand):
    help = (
        "Signing keys: 'demo' creates the demo CA and a PKCS#12 key for every agency in "
        "TAMBO_SIGNING_KEYS (existing files are kept). Development and demo only."
    )

    def add_arguments(self, parser):
        parser.add_argument("operation", choices=["demo"])

    def handle(self, *args, operation: str, **options):
        try:
            report = create_demo_keys()
        except SigningUnavailable as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"signing keys in {settings.TAMBO_SIGNING_KEYS}: {len(report.created)} created"
            f"{' (' + ', '.join(report.created) + ')' if report.created else ''}, "
            f"{len(report.kept)} kept"
        )
