"""Precision, recall and speed of the possible-duplicates finder on generated data.

    .venv/bin/python bench/duplicates.py [--people 20000] [--seed 7] [--database]

The data (tests/contacts/duplicate_data.py) holds known true duplicates — typos, swapped first and
last names, initials, abbreviated companies and streets, missing fields, other phone formats —
and relatives who share a surname and an address but are different people. The finder runs with
the blocking and scoring the background scan uses (contacts.duplicates). With --database the
contacts are loaded into an account "bench-duplicates" of the configured database (DATABASE_URL,
or the embedded one) and the real scan runs: blocking keys by COPY, pairs in SQL, scoring in
chunks, suggestions upserted per chunk.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", action="store_true", help="run the real scan on the database")
    args = parser.parse_args()
    if args.database:
        database_scan(args.people, args.seed)
        return

    from contacts.duplicates import BLOCK_MAX, THRESHOLD, candidate_pairs, score_pair
    from tests.contacts.duplicate_data import as_people, generate

    rows, truth = generate(args.people, seed=args.seed)
    people = as_people(rows)
    started = time.perf_counter()
    pairs = list(candidate_pairs(people))
    blocked = time.perf_counter()
    found = set()
    for a, b in pairs:
        score, _ = score_pair(people[a], people[b])
        if score >= THRESHOLD:
            found.add((a, b))
    scored = time.perf_counter()
    true_positives = len(found & truth)
    n = len(people)
    print(f"contacts:              {n:,} ({len(truth):,} true duplicate pairs)")
    print(
        f"candidate pairs:       {len(pairs):,} ({len(pairs) / n:.1f} per contact; all pairs would be {n * (n - 1) // 2:,})"
    )
    print(f"suggestions:           {len(found):,} (threshold {THRESHOLD}, block cap {BLOCK_MAX})")
    print(f"precision:             {true_positives / max(len(found), 1):.3f}")
    print(f"recall:                {true_positives / max(len(truth), 1):.3f}")
    print(f"blocking:              {blocked - started:.2f} s")
    print(
        f"scoring:               {scored - blocked:.2f} s ({len(pairs) / max(scored - blocked, 1e-9):,.0f} pairs/s)"
    )


def database_scan(people: int, seed: int) -> None:
    import django

    django.setup()
    from django.db import connection, connections

    from accounts.models import Account
    from accounts.tenancy import tenant_atomic
    from contacts.duplicates import scan_execute
    from contacts.models import DuplicateScan, DuplicateSuggestion
    from tests.contacts.duplicate_data import generate

    rows, truth = generate(people, seed=seed)
    account, _ = Account.objects.get_or_create(slug="bench-duplicates", defaults={"name": "Bench"})
    columns = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "street",
        "postal_code",
        "city",
        "company_name",
    ]
    blank = ["salutation", "title", "letter_salutation", "country", "language"]
    with tenant_atomic(account), connection.cursor() as cursor:
        for table in ("duplicatesuggestion", "duplicatescan", "contact"):
            cursor.execute(f"DELETE FROM contacts_{table} WHERE account_id = %s", [account.pk])
        # COPY cannot write into a table under row-level security: stage, then INSERT … SELECT.
        cursor.execute(f"CREATE TEMP TABLE bench_rows ({', '.join(c + ' text' for c in columns)})")
        with cursor.copy(f"COPY bench_rows ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([getattr(row, c) for c in columns])
        empty = ", ".join(["''"] * len(blank))
        cursor.execute(
            f"INSERT INTO contacts_contact (account_id, {', '.join(columns + blank)}, custom_fields,"
            f" mailing_method, no_mailings, created_at, updated_at) SELECT %s, {', '.join(columns)},"
            f" {empty}, '{{}}', 'email', false, now(), now() FROM bench_rows",
            [account.pk],
        )
        cursor.execute("DROP TABLE bench_rows")
    # What autovacuum does a minute after a large import (the application role may not).
    with connections["owner"].cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    with tenant_atomic(account):
        scan = DuplicateScan.objects.create(status="running")
    started = time.perf_counter()
    scan_execute(account_id=account.pk, scan_id=scan.pk)
    elapsed = time.perf_counter() - started
    with tenant_atomic(account):
        scan.refresh_from_db()
        by_email = {row.email: index for index, row in enumerate(rows)}
        found = {
            tuple(sorted((by_email[str(a)], by_email[str(b)])))
            for a, b in DuplicateSuggestion.objects.values_list(
                "contact_a__email", "contact_b__email"
            )
        }
    true_positives = len(found & truth)
    print(f"contacts:              {len(rows):,} ({len(truth):,} true duplicate pairs)")
    print(f"candidate pairs:       {scan.pairs_compared:,}")
    print(f"suggestions:           {len(found):,}")
    print(f"precision:             {true_positives / max(len(found), 1):.3f}")
    print(f"recall:                {true_positives / max(len(truth), 1):.3f}")
    print(f"scan (database):       {elapsed:.1f} s ({len(rows) / elapsed:,.0f} contacts/s)")


if __name__ == "__main__":
    main()
