from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from accounts.services import account_create


class Command(BaseCommand):
    help = "Create an account with its first admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        if Account.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"An account with slug {options['slug']!r} exists already.")
        account = account_create(
            slug=options["slug"],
            name=options["name"],
            admin_email=options["admin_email"],
            admin_password=options["admin_password"],
        )
        self.stdout.write(
            f"Created account {account.slug} (id {account.pk}) with admin {options['admin_email']}."
        )
