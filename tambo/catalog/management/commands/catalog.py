"""``tambo catalog load DIR``: validate and publish agency and procedure files."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tambo.catalog.loader import CatalogError, load_directory


class Command(BaseCommand):
    help = "Catalogue files: 'load DIR' validates every YAML file under DIR and publishes them."

    def add_arguments(self, parser):
        parser.add_argument("operation", choices=["load"])
        parser.add_argument("directory", type=Path)

    def handle(self, *args, operation: str, directory: Path, **options):
        try:
            report = load_directory(directory)
        except CatalogError as exc:
            raise CommandError(
                f"catalogue not loaded, {len(exc.problems)} problem(s):\n{exc}"
            ) from None
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"agencies: {report.agencies_created} created, {report.agencies_updated} updated; "
            f"procedures: {report.versions_created} new versions, {report.unchanged} unchanged"
        )
