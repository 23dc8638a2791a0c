from __future__ import annotations

from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from accounts.models import OutboxMessage


class OutboxBackend(BaseEmailBackend):
    """Keeps each message in the database, readable by staff at /outbox/ (no SMTP host set)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        OutboxMessage.objects.bulk_create(
            OutboxMessage(
                to=", ".join(message.recipients()),
                subject=str(message.subject)[:500],
                message=message.message().as_string(),
            )
            for message in email_messages
        )
        return len(email_messages)
