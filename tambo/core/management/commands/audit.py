"""``tambo audit verify`` recomputes the chain; ``tambo audit seal`` seals pending entries."""

from django.core.management.base import BaseCommand, CommandError

from tambo.core import audit


class Command(BaseCommand):
    help = "Audit log: 'seal' pending entries into the hash chain, 'verify' the whole chain."

    def add_arguments(self, parser):
        parser.add_argument("operation", choices=["verify", "seal"])

    def handle(self, *args, operation: str, **options):
        if operation == "seal":
            count = audit.seal_pending(wait=True)
            self.stdout.write(f"sealed {count} entries")
            return
        audit.seal_pending(wait=True)
        result = audit.verify_chain()
        if not result.ok:
            raise CommandError(
                f"audit chain broken after {result.checked} entries: {result.problem}"
            )
        self.stdout.write(f"audit chain OK: {result.checked} entries, {result.pending} pending")
