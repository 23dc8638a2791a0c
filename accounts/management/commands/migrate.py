"""`migrate` as the owner role, followed by the application role's grants and row-level security.

The application's own connection (`default`) is deliberately not allowed to change the schema.
"""

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands import migrate
from django.db import connections

from accounts.dbsecurity import secure_database


class Command(migrate.Command):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database="owner")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["database"] == "default":
            options["database"] = "owner"
        super().handle(*args, **options)
        secure_database(connections[options["database"]])
