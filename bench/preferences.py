"""Latency of the preference centre (GET shows, POST changes) served by gunicorn.

    .venv/bin/python bench/preferences.py [--requests 3000] [--rate 50] [--contacts 100000]
                                          [--workers 4] [--post-share 0.2] [--port 8791]

Uses its own database (`crm_bench_prefs`, created and migrated on the server of DATABASE_URL, or
on the embedded PostgreSQL) with one account of `--contacts` contacts under the GDPR baseline,
issues personal links for a sample of them, starts gunicorn (the production web server) on
loopback, and from this second process sends `--requests` requests at a fixed `--rate`
(open loop: each request leaves at its scheduled time whatever the earlier ones do, and its
latency counts from that time, so a slow server cannot hide its queueing). One request in five
(`--post-share`) is a POST that changes a topic and records ledger events. Prints p50/p95/p99
and the achieved requests/s. Target (DESIGN §9): p95 ≤ 100 ms at 50 requests/s on 2 cores.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "crm_bench_prefs"
SLUG = "bench-prefs"
os.environ["CRM_DATABASE_NAME"] = DB_NAME
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def _ensure_database() -> None:
    import psycopg
    from django.conf import settings

    owner: dict[str, Any] = dict(settings.DATABASES["owner"])
    with psycopg.connect(
        host=owner.get("HOST") or None,
        port=owner.get("PORT") or None,
        user=owner.get("USER"),
        password=owner.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _seed(contacts: int, links: int) -> tuple[list[str], list[int]]:
    """The bench account with `contacts` contacts (added set-based when short), the baseline
    applied, and `links` fresh preference tokens."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Account
    from accounts.services import account_create
    from accounts.tenancy import tenant_atomic
    from consent.models import AccessToken, SubscriptionType
    from consent.services import access_token_issue, consent_defaults_ensure, gdpr_baseline_apply

    call_command("migrate", interactive=False, verbosity=0)
    account = Account.objects.filter(slug=SLUG).first() or account_create(
        slug=SLUG, name="Bench Preferences", admin_email="bench@prefs.test", admin_password=None
    )
    with tenant_atomic(account):
        consent_defaults_ensure()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM contacts_contact WHERE account_id = %s", [account.pk]
            )
            have = cursor.fetchone()[0]
            if have < contacts:
                print(f"seeding {contacts - have:,} contacts …", flush=True)
                languages = "ARRAY['en','nl','fr','de']"
                cursor.execute(
                    f"""
                    INSERT INTO contacts_contact (account_id, email, first_name, last_name, salutation,
                        title, company_name, letter_salutation, phone, street, postal_code, city,
                        country, language, custom_fields, mailing_method, no_mailings, created_at,
                        updated_at)
                    SELECT %s, 'person' || g || '@bench.example', 'First' || g, 'Last' || g, '', '',
                           '', '', '', '', '', '', '', ({languages})[1 + g %% 4], '{{}}', 'email',
                           g %% 50 = 0, now(), now()
                      FROM generate_series(%s, %s) g
                    """,
                    [account.pk, have + 1, contacts],
                )
        gdpr_baseline_apply(dry_run=False)
        AccessToken.objects.filter(kind=AccessToken.Kind.PREFERENCES).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM contacts_contact WHERE account_id = %s ORDER BY random() LIMIT %s",
                [account.pk, links],
            )
            ids = [row[0] for row in cursor.fetchall()]
        tokens = [access_token_issue(contact_id=i, kind=AccessToken.Kind.PREFERENCES) for i in ids]
        topics = list(SubscriptionType.objects.values_list("pk", flat=True))
    return tokens, topics


def _wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 60 s")


def _server_cpu_seconds(server: subprocess.Popen[bytes]) -> float:
    """CPU time of gunicorn (master and workers) plus the PostgreSQL backends of the bench
    database: the work per request, whatever else the machine is doing."""
    import psutil

    total = 0.0
    master = psutil.Process(server.pid)
    processes = [master, *master.children(recursive=True)]
    for proc in psutil.process_iter(["cmdline"]):
        if DB_NAME in " ".join(proc.info["cmdline"] or []) and "postgres" in " ".join(
            proc.info["cmdline"] or []
        ):
            processes.append(proc)
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--links", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--post-share", type=float, default=0.2)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()

    import django

    django.setup()
    _ensure_database()
    tokens, topics = _seed(args.contacts, args.links)

    env = {**os.environ, "CRM_DATABASE_NAME": DB_NAME, "DEBUG": "false"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_until_up(args.port, server)
        # Warm every worker (imports, connections) so the figures are of the steady state.
        for token in tokens[: args.workers * 4]:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
            conn.request("GET", f"/p/{token}/")
            conn.getresponse().read()

        latencies: dict[str, list[float]] = {"GET": [], "POST": []}
        errors: list[str] = []
        lock = threading.Lock()
        post_every = round(1 / args.post_share) if args.post_share > 0 else 0

        def one(i: int, due: float) -> None:
            token = tokens[i % len(tokens)]
            method = "POST" if post_every and i % post_every == post_every - 1 else "GET"
            body = None
            headers = {"User-Agent": "bench/preferences"}
            if method == "POST":
                chosen = [str(topics[(i // post_every) % len(topics)])]
                body = urlencode({"topics": chosen, "email_marketing": "on"}, doseq=True)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
                conn.request(method, f"/p/{token}/", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                ok = response.status == 200
            except OSError as error:
                ok = False
                response = None
                with lock:
                    errors.append(f"{method}: {error}")
            elapsed = time.perf_counter() - due
            with lock:
                latencies[method].append(elapsed)
                if not ok and response is not None:
                    errors.append(f"{method}: HTTP {response.status}")

        load_before = os.getloadavg()[0]
        cpu_before = _server_cpu_seconds(server)
        interval = 1.0 / args.rate
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=64) as pool:
            for i in range(args.requests):
                due = started + i * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(one, i, due)
        finished = time.perf_counter()
        cpu_used = _server_cpu_seconds(server) - cpu_before
    finally:
        server.terminate()
        server.wait(15)

    every = latencies["GET"] + latencies["POST"]
    print(f"server:        gunicorn, {args.workers} workers, {os.cpu_count()} CPUs, loopback")
    load_after = os.getloadavg()[0]
    print(f"load average:  {load_before:.2f} before, {load_after:.2f} after (1-minute)")
    print(f"contacts:      {args.contacts:,} (links to {len(tokens)} of them)")
    print(
        f"requests:      {len(every):,} at {args.rate:g}/s target "
        f"({len(latencies['GET']):,} GET, {len(latencies['POST']):,} POST), errors: {len(errors)}"
    )
    print(f"achieved:      {len(every) / (finished - started):.1f} requests/s")
    print(
        f"server CPU:    {cpu_used / max(len(every), 1) * 1000:.1f} ms per request "
        f"(gunicorn + its PostgreSQL backends; {len(every) / max(cpu_used, 1e-9) * 2:.0f} "
        "requests/s would fill 2 cores)"
    )
    for name, values in (("all", every), ("GET", latencies["GET"]), ("POST", latencies["POST"])):
        if values:
            print(
                f"{name:5} latency  p50 {_percentile(values, 0.50) * 1000:6.1f} ms   "
                f"p95 {_percentile(values, 0.95) * 1000:6.1f} ms   "
                f"p99 {_percentile(values, 0.99) * 1000:6.1f} ms   "
                f"mean {statistics.fmean(values) * 1000:6.1f} ms"
            )
    if errors:
        print("first errors:", errors[:5])


if __name__ == "__main__":
    main()
