"""Structured logs: one JSON object per line, carrying the request id and the account."""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

from accounts.tenancy import current_account_id_or_none

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs a response after the middleware has finished, so its record
        # carries the request, not the context: fall back to what the request remembers.
        request = getattr(record, "request", None)
        record.request_id = request_id.get() or getattr(request, "request_id", None)
        account = getattr(request, "account", None)
        record.account_id = current_account_id_or_none() or (account.pk if account else None)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "account_id": getattr(record, "account_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
