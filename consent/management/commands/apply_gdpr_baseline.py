from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from accounts.tenancy import tenant_atomic
from consent.services import gdpr_baseline_apply


class Command(BaseCommand):
    help = "Apply the GDPR baseline (DESIGN §4) to an account and print the counts per rule."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--dry-run", action="store_true", help="Only print what a run would record"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(slug=options["slug"]).first()
        if account is None:
            raise CommandError(f"No account with the slug {options['slug']!r}.")
        with tenant_atomic(account):
            counts = gdpr_baseline_apply(dry_run=options["dry_run"])
        verb = "would record" if options["dry_run"] else "recorded"
        for rule, count in counts.items():
            self.stdout.write(f"{rule}: {count} ({verb})")
