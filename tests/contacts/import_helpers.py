"""Helpers for the import and export tests: uploads kept in a temporary media folder, and a
one-call import that runs the Celery task inline (eager mode) as a worker would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.utils import CaptureQueriesContext  # noqa: F401  (re-exported for tests)

from contacts import imports
from contacts.models import ContactList, ImportJob
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.MEDIA_ROOT = str(tmp_path)
    yield tmp_path


def csv_bytes(*lines: str, encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    return newline.join(lines).encode(encoding) + newline.encode(encoding)


def run_import(
    tenant: Tenant,
    content: bytes,
    *,
    filename: str = "people.csv",
    into: ContactList | None = None,
    mapping: dict[str, str] | None = None,
    name: str = "",
) -> ImportJob:
    """Uploads `content` into `into` (a list) or the contact database, with the suggested
    mapping unless one is given, and runs the job to its end."""
    from django.db import connection

    target = ImportJob.Target.LIST if into is not None else ImportJob.Target.CONTACTS
    with tenant:
        job = imports.import_create(
            upload=SimpleUploadedFile(filename, content),
            target=target,
            contact_list=into,
            name=name,
        )
        if mapping is None:
            mapping = imports.mapping_suggest(headers=job.headers, target_kind=target)
        callbacks: list[Any] = []
        with _capture(connection, callbacks):
            imports.import_start(job=job, mapping=mapping)
        job.refresh_from_db()
    return job


class _capture:
    """Runs the on-commit callbacks (the task's `.delay`) when the block ends, like a commit."""

    def __init__(self, connection: Any, callbacks: list[Any]) -> None:
        self.connection = connection
        self.start = 0

    def __enter__(self) -> None:
        self.start = len(self.connection.run_on_commit)

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is not None:
            return
        pending = self.connection.run_on_commit[self.start :]
        del self.connection.run_on_commit[self.start :]
        for _, callback, _ in pending:
            callback()
