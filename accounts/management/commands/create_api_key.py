from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account, Membership
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an account and print it (once: only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--role", choices=[r.value for r in Membership.Role], default="marketer"
        )
        parser.add_argument("--name", default="API key")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(slug=options["slug"]).first()
        if account is None:
            raise CommandError(f"No account with slug {options['slug']!r}.")
        _, plain = api_key_create(account=account, role=options["role"], name=options["name"])
        self.stdout.write(plain)
