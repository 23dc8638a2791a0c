"""Precision, recall and speed of the possible-duplicates finder on generated data.

    .venv/bin/python bench/duplicates.py [--people 20000] [--seed 7]

The data (tests/contacts/duplicate_data.py) holds known true duplicates — typos, swapped first and
last names, initials, abbreviated companies and streets, missing fields, other phone formats —
and relatives who share a surname and an address but are different people. The finder runs with
the blocking and scoring the background scan uses (contacts.duplicates).
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
    args = parser.parse_args()

    from contacts.duplicates import BLOCK_MAX, THRESHOLD, Person, candidate_pairs, score_pair
    from tests.contacts.duplicate_data import generate

    rows, truth = generate(args.people, seed=args.seed)
    people = [
        Person.of(
            id=i,
            first_name=r.first_name,
            last_name=r.last_name,
            email=r.email,
            phone=r.phone,
            postal_code=r.postal_code,
            street=r.street,
            company_name=r.company_name,
        )
        for i, r in enumerate(rows)
    ]
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


if __name__ == "__main__":
    main()
