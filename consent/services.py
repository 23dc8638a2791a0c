from __future__ import annotations

from consent.models import Purpose

DEFAULT_PURPOSES = [
    (Purpose.SALES, "Sales and service", "Contact about orders, contracts and service."),
    (Purpose.E_MARKETING, "E-marketing", "Newsletters and offers by e-mail."),
]


def purposes_ensure_defaults() -> list[Purpose]:
    """The account's default purposes (idempotent; names stay as the account edited them)."""
    return [
        Purpose.objects.get_or_create(key=key, defaults={"name": name, "description": description})[
            0
        ]
        for key, name, description in DEFAULT_PURPOSES
    ]
