"""`make run`: embedded services (when no URLs are set), migrations, the demo account, then the web
server, one Celery worker and Celery beat together. Ctrl-C stops everything this started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()  # starts the embedded PostgreSQL / Redis when their URLs are unset
    from django.conf import settings
    from django.core.management import call_command

    from accounts.management.commands.seed_demo import ADMIN, MARKETER

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo")
    port = os.environ.get("PORT", "8000")
    bind = os.environ.get("BIND", "127.0.0.1")
    python = sys.executable
    commands = {
        "web": [
            python,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"{bind}:{port}",
            "--workers",
            "3",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ],
    }
    children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    url = f"http://{'localhost' if bind in ('127.0.0.1', '0.0.0.0') else bind}:{port}/"  # noqa: S104
    print(
        f"\n  Consent CRM is running at {url}\n"
        f"  Demo admin:    {ADMIN[0]} / {ADMIN[1]}\n"
        f"  Demo marketer: {MARKETER[0]} / {MARKETER[1]}\n"
        "  Press Ctrl-C to stop.\n",
        flush=True,
    )
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(
                    f"{name} stopped (exit code {child.returncode}); stopping the rest.", flush=True
                )
                stopping, exit_code = True, 1
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    # Leaving main() runs config.embedded's exit hook, which stops the embedded servers.
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
