"""Speed of the converter: 20 lists, 1,000,000 entries, about 600,000 distinct e-mail addresses.

    .venv/bin/python manage.py migrate          # once, on the database the bench should use
    .venv/bin/python bench/convert.py [--entries 1000000] [--lists 20] [--people 600000] [--keep]

Creates a throw-away account, fills its lists in SQL (about 10% of the entries repeat a person of
an earlier list with a differing field, 1% have an invalid address, 2% are unsubscribed), then
runs an unattended conversion in this process, unit by unit, exactly as the Celery task does.
Prints the analysis and merge seconds of every list and in total, the final publication, and the
peak memory of this process (PostgreSQL's own memory is not included). The account is deleted
afterwards unless --keep is given.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

FIRST = ["Jan", "Els", "Pieter", "Anke", "Marie", "Luc", "Hans", "Anna", "Jürgen", "Chloé"]
LAST = ["Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Müller", "Schmidt", "De Vries"]
CITIES = ["Antwerpen", "Gent", "Liège", "Namur", "Aachen", "Köln", "Utrecht", "Lille"]


def fill(account_id: int, list_ids: list[int], entries: int, people: int) -> None:
    from django.db import connection

    from contacts.models import ListEntry
    from converter.services import column_defaults

    given = [
        "account_id",
        "list_id",
        "email",
        "email_normalized",
        "status",
        "first_name",
        "last_name",
        "phone",
        "city",
        "postal_code",
        "language",
        "custom_fields",
    ]
    cols, marks, extra = column_defaults(ListEntry, given, "x")
    # Entry k belongs to list k % L. The first `people` entries are distinct people; the rest
    # repeat an earlier person (a multiplier spreads them), a quarter of those with another city
    # or phone (about 10% of all entries differ from what an earlier list said).
    sql = f"""
        INSERT INTO contacts_listentry ({", ".join(given + cols)})
        SELECT %(account)s, (%(lists)s::bigint[])[1 + s.k %% %(n_lists)s],
               CASE WHEN s.p %% 100 = 99 THEN 'person' || s.p || ' at example.org'
                    ELSE 'Person' || s.p || '@Example.org' END,
               CASE WHEN s.p %% 100 = 99 THEN NULL ELSE 'person' || s.p || '@example.org' END,
               CASE WHEN s.k %% 50 = 7 THEN 'unsubscribed' ELSE 'subscribed' END,
               (%(first)s::text[])[1 + s.p %% 10],
               (%(last)s::text[])[1 + s.p %% 8],
               CASE WHEN s.k >= %(people)s AND s.k %% 8 = 0 THEN '+32 2 ' || s.k
                    WHEN s.k >= %(people)s AND s.k %% 8 = 4 THEN ''
                    ELSE '+32 4 ' || s.p END,
               CASE WHEN s.k >= %(people)s AND s.k %% 8 = 2 THEN (%(cities)s::text[])[1 + (s.p + 3) %% 8]
                    ELSE (%(cities)s::text[])[1 + s.p %% 8] END,
               lpad((1000 + s.p %% 9000)::text, 4, '0'),
               (ARRAY['nl','fr','de','en'])[1 + s.p %% 4],
               CASE WHEN s.p %% 5 = 0 THEN jsonb_build_object('member', 'm' || s.p) ELSE '{{}}'::jsonb END
               {"".join(", " + m for m in marks)}
          FROM (SELECT k, CASE WHEN k < %(people)s THEN k
                               ELSE (k::bigint * 7919 + 1) %% %(people)s END AS p
                  FROM generate_series(0, %(entries)s - 1) k) s
        ON CONFLICT DO NOTHING
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "account": account_id,
                "lists": list_ids,
                "n_lists": len(list_ids),
                "people": people,
                "entries": entries,
                "first": FIRST,
                "last": LAST,
                "cities": CITIES,
                **extra,
            },
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lists", type=int, default=20)
    parser.add_argument("--people", type=int, default=600_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench account")
    parser.add_argument("--profile", action="store_true", help="print the slowest statements")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from accounts.models import Account
    from accounts.tenancy import tenant_atomic
    from contacts.models import ContactList, ListEntry
    from converter import services
    from converter.models import Conversion, ConversionStep

    slug = f"bench-convert-{int(time.time())}"
    account = Account.objects.create(slug=slug, name="Converter bench")
    try:
        started = time.perf_counter()
        with tenant_atomic(account):
            lists = [
                ContactList.objects.create(name=f"List {i + 1:02d}") for i in range(args.lists)
            ]
            fill(account.pk, [cl.pk for cl in lists], args.entries, args.people)
            entries = ListEntry.objects.count()
            distinct = (
                ListEntry.objects.exclude(email_normalized=None)
                .values("email_normalized")
                .distinct()
                .count()
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE contacts_listentry")
        print(
            f"generated {entries:,} entries in {args.lists} lists, {distinct:,} distinct valid"
            f" e-mail addresses ({time.perf_counter() - started:.1f} s)"
        )

        statements: dict[str, float] = defaultdict(float)
        plans: list[str] = []
        if args.profile:
            execute = services._execute

            def timed(sql: str, params: dict[str, object]) -> list[tuple[object, ...]]:
                begun = time.perf_counter()
                try:
                    return execute(sql, params)
                finally:
                    spent = time.perf_counter() - begun
                    statements[" ".join(sql.split())[:90]] += spent
                    if spent > 1 and sql.lstrip().startswith("UPDATE") and not plans:
                        plans.extend(r[0] for r in execute("EXPLAIN " + sql, params))

            services._execute = timed
        # Run in this process, unit by unit; the account's deletion frees the draft afterwards.
        services._enqueue = lambda conversion: None
        services._drafts_delete_later = lambda conversion_id, account_id: None
        with tenant_atomic(account):
            conversion = services.conversion_start(
                lists=lists, label="bench", unattended=True, default_choice="list"
            )
        token = services.conversion_claim(conversion_id=conversion.pk, account_id=account.pk)
        assert token is not None
        seconds: dict[tuple[str, int], float] = defaultdict(float)
        while True:
            with tenant_atomic(account):
                conversion = Conversion.objects.get(pk=conversion.pk)
                step = (
                    ConversionStep.objects.filter(conversion=conversion)
                    .exclude(status="merged")
                    .order_by("position")
                    .first()
                )
            if conversion.status == "done":
                break
            if conversion.status == "confirming" and conversion.confirm_requested_at is None:
                with tenant_atomic(account):
                    services.conversion_confirm(conversion=conversion)
                token = services.conversion_claim(
                    conversion_id=conversion.pk, account_id=account.pk
                )
                assert token is not None
                continue
            if not conversion.prepared:
                phase = ("prepare", 0)
            elif conversion.status == "confirming":
                phase = ("publish", 0)
            elif conversion.status == "analyzing":
                phase = ("analysis", step.position if step else 0)
            else:
                phase = ("merge", step.position if step else 0)
            unit_started = time.perf_counter()
            more = services.conversion_work(
                conversion_id=conversion.pk, account_id=account.pk, token=token, max_units=1
            )
            seconds[phase] += time.perf_counter() - unit_started
            if not more and conversion.status != "confirming":
                with tenant_atomic(account):
                    state = Conversion.objects.get(pk=conversion.pk)
                if state.status not in ("confirming", "done"):
                    raise SystemExit(f"conversion stopped in {state.status}: {state.error}")

        with tenant_atomic(account):
            steps = list(ConversionStep.objects.filter(conversion=conversion).order_by("position"))
            report = Conversion.objects.get(pk=conversion.pk).report
        print(
            f"\n{'list':<10}{'entries':>10}{'new':>9}{'conflicts':>11}{'analysis s':>12}{'merge s':>10}"
        )
        for step in steps:
            c = step.counts
            print(
                f"{step.list_name:<10}{c['entries']:>10,}{c['new']:>9,}"
                f"{c['conflicting_contacts']:>11,}{seconds[('analysis', step.position)]:>12.2f}"
                f"{seconds[('merge', step.position)]:>10.2f}"
            )
        analysis = sum(v for (k, _), v in seconds.items() if k == "analysis")
        merge = sum(v for (k, _), v in seconds.items() if k == "merge")
        print(f"\ncopy of the existing contacts into the draft: {seconds[('prepare', 0)]:.2f} s")
        print(f"analysis total: {analysis:.2f} s   merge total: {merge:.2f} s")
        print(f"analysis + merge: {analysis + merge:.2f} s")
        print(
            f"publication (one transaction): {seconds[('publish', 0)]:.2f} s —"
            f" {report['contacts_created']:,} contacts, {report['sources_added']:,} sources,"
            f" {report['suppressions_added']:,} suppressions, {report['consent_events']:,} consent events"
        )
        print("\n".join(p for p in plans if "CASE" not in p))
        for statement, spent in sorted(statements.items(), key=lambda i: -i[1])[:12]:
            print(f"{spent:8.2f} s  {statement}")
        print(
            f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    finally:
        if not args.keep:
            from django.db import connections, transaction

            from accounts.dbsecurity import tenant_tables

            owner = connections["owner"]
            with transaction.atomic(using="owner"), owner.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")  # no FK checks
                for table, _ in tenant_tables():
                    cursor.execute("SELECT to_regclass(%s)", [table])
                    if cursor.fetchone()[0] is not None:
                        cursor.execute(f"DELETE FROM {table} WHERE account_id = %s", [account.pk])
                cursor.execute("DELETE FROM accounts_account WHERE id = %s", [account.pk])


if __name__ == "__main__":
    main()
