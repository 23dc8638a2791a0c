from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import Tenant

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_reports_database_and_broker(db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_answers_503_when_the_broker_is_unreachable(db: None) -> None:
    from config.celery import app

    original = app.conf.broker_url
    app.conf["broker_url"] = "redis://127.0.0.1:1/0"
    try:
        response = Client().get("/healthz")
    finally:
        app.conf["broker_url"] = original
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")


def test_logs_are_json_lines_with_request_id_and_account(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    from accounts.logging import ContextFilter, JsonFormatter

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = tenant.client("admin").get("/lists/does-not-exist/", HTTP_X_REQUEST_ID="req-123")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 404 and response["X-Request-ID"] == "req-123"
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["request_id"] == "req-123"
    assert line["account_id"] == tenant.account.pk
    assert line["level"] == "WARNING"


def test_security_headers_are_sent(tenant: Tenant) -> None:
    response = tenant.client("admin").get("/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PRODUCTION": "true",
        "SECRET_KEY": "x" * 64 + "-production-grade-secret-for-the-check",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "ALLOWED_HOSTS": "crm.example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
