"""`tambo exchange keys AGENCY... --node URL`: create the agencies' exchange keys on this node
and list them (node, key id, public key) in the agencies file of the registry.

`tambo exchange keys AGENCY... --rotate [--overlap-days N]`: give each agency a new key; the
registry keeps the old public key as a previous key, accepted for N more days (default 7),
so requests and answers signed before the new file reached every node still verify.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tambo.core import audit
from tambo.exchange import keys
from tambo.exchange.registry import registry, rotate_agency_key, write_agency


class Command(BaseCommand):
    help = "Exchange between agencies: create or rotate keys and register this node's agencies."

    def add_arguments(self, parser):
        parser.add_argument("operation", choices=["keys"])
        parser.add_argument("agencies", nargs="+", help="agency codes hosted on this node")
        parser.add_argument(
            "--node",
            help="this node's base URL, e.g. https://tambo.msi.gob.pe (required unless --rotate)",
        )
        parser.add_argument(
            "--rotate", action="store_true", help="replace each agency's key with a new one"
        )
        parser.add_argument(
            "--overlap-days",
            type=float,
            default=7.0,
            help="with --rotate: days the previous key is still accepted (default 7)",
        )

    def handle(self, *args, operation: str, agencies: list[str], node: str | None, **options):
        if options["rotate"]:
            self._rotate(agencies, dt.timedelta(days=options["overlap_days"]), node)
            return
        if not node:
            raise CommandError("--node URL is required (this node's base URL)")
        for code in agencies:
            key_id, public_key = keys.ensure_key(code)
            write_agency(code, node, public_key, key_id=key_id)
            self.stdout.write(f"{code}: key {keys.key_path(code, key_id)}, node {node}")

    def _rotate(self, agencies: list[str], overlap: dt.timedelta, node: str | None) -> None:
        if overlap < dt.timedelta(0):
            raise CommandError("--overlap-days cannot be negative")
        for code in agencies:
            entry = registry().agency(code)
            if entry is None or not keys.hosts(code):
                raise CommandError(f"{code} has no key on this node: create it first (--node URL)")
            key_id = keys.new_key_id(code)
            if entry.holds(key_id):
                raise CommandError(f"{code}: key {key_id} exists already; try again in a second")
            public_key = keys.create_key(code, key_id)
            with transaction.atomic():
                audit.record(
                    "exchange.key_rotated",
                    "exchange_key",
                    key_id,
                    agency_code=code,
                    data={"previous": entry.key_id, "overlap_seconds": overlap.total_seconds()},
                )
                rotate_agency_key(code, key_id, public_key, overlap)
            if node and node != entry.node:
                write_agency(code, node, public_key)
            self.stdout.write(
                f"{code}: new key {key_id} ({keys.key_path(code, key_id)}); "
                f"{entry.key_id} accepted until {overlap} from now. "
                "Distribute the agencies file to every node."
            )
