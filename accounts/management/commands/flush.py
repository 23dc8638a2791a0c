"""`flush` as the owner role: the application role may not TRUNCATE (it would skip row-level security)."""

from typing import Any

from django.core.management.commands import flush


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        if options.get("database", "default") == "default":
            options["database"] = "owner"
        super().handle(**options)
