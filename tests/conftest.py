"""Fixtures shared by every test.

The test database is created and migrated by the owner role (as in production), and the tests'
own queries run as the application role, under row-level security.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from accounts.models import Account, Membership
from accounts.services import account_create, api_key_create, user_get_or_create
from accounts.tenancy import account_context, set_db_context, tenant_atomic

PASSWORD = "correct horse battery staple"

# For tests whose data must really commit (live servers, workers, connection reuse). Between such
# tests the tables are emptied by `flush`, which runs as the owner role, hence "owner".
committed = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment: None, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        owner = connections["owner"]
        old_name = owner.settings_dict["NAME"]
        test_name = owner.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        settings.DATABASES["default"]["NAME"] = test_name
        connections["default"].settings_dict["NAME"] = test_name
        connections["default"].close()
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        # A live server's thread may still hold a connection; it must not stop the drop.
        with owner.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        owner.close()
        owner.creation.destroy_test_db(old_name, verbosity=0)


@pytest.fixture(autouse=True)
def _no_account_leaks() -> Iterator[None]:
    """Each test starts without an account in context, like a fresh request."""
    with account_context(None):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Sign-in throttling counters live in the cache; no test inherits another's."""
    from django.core.cache import cache

    cache.clear()


@dataclass
class Tenant:
    """An account with users in each role, for tests."""

    account: Account
    admin: Any
    marketer: Any
    viewer: Any
    _keys: dict[str, str] = field(default_factory=dict)

    def client(self, role: str = "admin") -> Client:
        client = Client()
        client.force_login(getattr(self, role))
        return client

    def api(self, role: str = "admin") -> Client:
        if role not in self._keys:
            _, self._keys[role] = api_key_create(account=self.account, role=role)
        return Client(HTTP_AUTHORIZATION=f"Bearer {self._keys[role]}")

    def __enter__(self) -> None:
        """`with tenant:` scopes ORM calls and row-level security to this account."""
        self._ctx = account_context(self.account)
        self._ctx.__enter__()
        set_db_context(account_id=self.account.pk)

    def __exit__(self, *exc: Any) -> None:
        set_db_context(account_id=None)
        self._ctx.__exit__(*exc)


def make_tenant(slug: str) -> Tenant:
    account = account_create(
        slug=slug, name=slug.title(), admin_email=f"admin@{slug}.test", admin_password=PASSWORD
    )
    admin, _ = user_get_or_create(email=f"admin@{slug}.test")
    users = {}
    for role in ("marketer", "viewer"):
        user, _ = user_get_or_create(email=f"{role}@{slug}.test", password=PASSWORD)
        with tenant_atomic(account):
            Membership.objects.create(user=user, role=role)
        users[role] = user
    return Tenant(account=account, admin=admin, marketer=users["marketer"], viewer=users["viewer"])


@pytest.fixture
def tenant(db: None) -> Tenant:
    return make_tenant("acme")


@pytest.fixture
def outsider(db: None) -> Tenant:
    """Another account: its ids must answer 404 to `tenant`'s users and keys."""
    return make_tenant("other")


def link_in(pattern: str, text: str) -> str:
    """The first group of `pattern` in `text` (a link in an e-mail); fails the test if absent."""
    import re

    match = re.search(pattern, text)
    assert match is not None, text
    return match.group(1)


# --- A real SMTP server on loopback -------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Mailbox]:
    """An aiosmtpd server; Django sends to it over SMTP like to any mail server."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            mailbox.messages.append(message)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    try:
        yield mailbox
    finally:
        controller.stop()


__all__ = ["PASSWORD", "Tenant", "make_tenant", "threading"]


# --- A real browser -----------------------------------------------------------------------------

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str | None:
    import shutil

    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def page(live_server: Any) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium, pointed at the live server.

    Skipped, with the reason printed, on a machine without Chromium (`apt-get install chromium`).
    """
    import os

    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): browser test skipped")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous, one at a time.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


# --- A real Celery worker -----------------------------------------------------------------------


@dataclass
class Worker:
    process: Any
    queue: str

    def kill(self) -> None:
        """SIGKILL, like a crashed machine: no cleanup runs."""
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def celery_worker(settings: Any, transactional_db: None) -> Iterator[Any]:
    """Starts real Celery worker processes on the test database and a private queue.

    Use with `@committed` tests. Call the returned function to start a worker; tasks sent with
    `.delay()` then go through Redis to it (eager mode is switched off for the test).
    """
    import os
    import subprocess
    import sys
    import uuid

    from config.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    workers: list[Worker] = []

    def start() -> Worker:
        env = {
            **os.environ,
            "CRM_DATABASE_NAME": connections["default"].settings_dict["NAME"],
            "CRM_TESTING": "false",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "LOG_LEVEL": "WARNING",
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queue,
                "--pool",
                "solo",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
            ],
            env=env,
        )
        worker = Worker(process=process, queue=queue)
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        app.conf.task_always_eager = True
        app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.terminate()
                try:
                    worker.process.wait(15)
                except Exception:
                    worker.process.kill()
