"""`tambo exchange keys AGENCY... --node URL`: create the agencies' exchange keys on this node
and list them (node, key id, public key) in the agencies file of the registry."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tambo.exchange import keys
from tambo.exchange.registry import write_agency


class Command(BaseCommand):
    help = "Exchange between agencies: create keys and register this node's agencies."

    def add_arguments(self, parser):
        parser.add_argument("operation", choices=["keys"])
        parser.add_argument("agencies", nargs="+", help="agency codes hosted on this node")
        parser.add_argument(
            "--node", required=True, help="this node's base URL, e.g. https://tambo.msi.gob.pe"
        )

    def handle(self, *args, operation: str, agencies: list[str], node: str, **options):
        for code in agencies:
            public_key = keys.create_key(code)
            write_agency(code, node, public_key)
            self.stdout.write(f"{code}: key {keys.key_path(code)}, node {node}")
