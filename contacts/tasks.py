from __future__ import annotations

from config.celery import app
from contacts import imports


@app.task(acks_late=True)
def import_run(account_id: int, job_id: int) -> None:
    """Runs an import; a second delivery of the same job finds it claimed and does nothing."""
    imports.import_execute(account_id=account_id, job_id=job_id)
