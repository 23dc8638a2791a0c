"""Import speed: end to end against a plain COPY of the same file, and peak memory.

    .venv/bin/python bench/import.py [--rows 1000000] [--into list|contacts] [--seed 3]

Generates a semicolon-separated CSV with Dutch headers (as a Flemish list would have them) of
realistic nl/fr/de names and addresses, about 2% invalid e-mail addresses and a few repeated
addresses; then, in a database of its own (`<database>_bench_import`, recreated each run):

- end to end: the upload is stored and read (format, encoding, delimiter, headers), the mapping
  is suggested from the headers, and the job runs to its end as a worker would run it (parse,
  validate, COPY into staging, set-based upsert, rejects, progress) — rows per second of the file;
- the floor: `COPY` of the same file into an unindexed table of text columns;
- peak memory (max RSS) of this process, and what it was before the import.

Needs PostgreSQL as the owner role (DATABASE_URL, or the embedded server) like `make test`.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"  # the job runs here, as a worker would run it
os.environ.setdefault("LOG_LEVEL", "WARNING")

FIRST = {
    "nl": ["Jan", "Pieter", "Els", "An", "Sofie", "Wouter", "Lotte", "Bram", "Femke", "Joris",
           "Marieke", "Koen", "Liesbeth", "Stijn", "Griet", "Tom", "Ine", "Jeroen", "Sanne", "Daan"],
    "fr": ["Jean", "Marie", "Sophie", "Luc", "Camille", "Élodie", "François", "Hélène", "Benoît",
           "Amélie", "Céline", "Jérôme", "Inès", "Noël", "Gaëlle", "Théo", "Chloé", "Raphaël"],
    "de": ["Jörg", "Jürgen", "Anja", "Uwe", "Günther", "Sabine", "Björn", "Käthe", "Lukas",
           "Mareike", "Sönke", "Tobias", "Ulrike", "Maximilian", "Frauke", "Dörte"],
}  # fmt: skip
LAST = {
    "nl": ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
           "Wouters", "De Smet", "Van den Broeck", "Vermeulen", "De Vries", "Van Dijk", "Bakker"],
    "fr": ["Dubois", "Lambert", "Dupont", "Martin", "Lefèvre", "Leroy", "Moreau", "Girard",
           "Rousseau", "Fournier", "Mercier", "Bonnet", "François", "Lemaître"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schäfer", "Koch", "Großmann", "Hoffmann", "Schröder", "Köhler"],
}  # fmt: skip
STREETS = {
    "nl": ["Kerkstraat", "Stationsstraat", "Dorpsstraat", "Molenstraat", "Nieuwstraat", "Markt"],
    "fr": ["Rue de la Gare", "Rue de l'Église", "Avenue Louise", "Chaussée de Wavre", "Place du Marché"],
    "de": ["Hauptstraße", "Bahnhofstraße", "Schulstraße", "Gartenstraße", "Lindenweg"],
}  # fmt: skip
CITIES = {
    "nl": [("1000", "Brussel", "BE"), ("9000", "Gent", "BE"), ("2000", "Antwerpen", "BE"),
           ("3000", "Leuven", "BE"), ("1012 AB", "Amsterdam", "NL"), ("3511 LN", "Utrecht", "NL")],
    "fr": [("4000", "Liège", "BE"), ("5000", "Namur", "BE"), ("1300", "Wavre", "BE"),
           ("75011", "Paris", "FR"), ("69002", "Lyon", "FR")],
    "de": [("4700", "Eupen", "BE"), ("50667", "Köln", "DE"), ("10115", "Berlin", "DE"),
           ("80331", "München", "DE")],
}  # fmt: skip
DOMAINS = ["telenet.be", "skynet.be", "gmail.com", "hotmail.com", "proximus.be", "web.de",
           "orange.fr", "ziggo.nl", "outlook.com", "gmx.de"]  # fmt: skip
BAD_EMAILS = ["", "geen", "jan.peeters@", "@gmail.com", "info@@example.be", "jan peeters@telenet.be",
              "marie.dupont(at)skynet.be", "contact@example", "sophie@exa_mple.be"]  # fmt: skip
HEADER = ["E-mail", "Aanspreking", "Voornaam", "Achternaam", "Bedrijf", "Straat", "Postcode",
          "Gemeente", "Land", "Taal", "Telefoon", "Status"]  # fmt: skip


def _ascii(text: str) -> str:
    return (
        unicodedata.normalize("NFKD", text)
        .encode("ascii", "ignore")
        .decode()
        .lower()
        .replace(" ", "")
    )


def generate(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    languages = ["nl"] * 6 + ["fr"] * 3 + ["de"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for i in range(rows):
            lang = rng.choice(languages)
            first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
            postal_code, city, country = rng.choice(CITIES[lang])
            roll = rng.random()
            if roll < 0.02:
                email = rng.choice(BAD_EMAILS)
            elif roll < 0.025 and i > 10:
                email = f"{_ascii(first)}.{_ascii(last)}{i - rng.randint(1, 10)}@{DOMAINS[i % 10]}"
            else:
                email = f"{_ascii(first)}.{_ascii(last)}{i}@{DOMAINS[i % 10]}"
            if rng.random() < 0.3:
                email = email.upper() if rng.random() < 0.1 else email.capitalize()
            writer.writerow(
                [
                    email,
                    rng.choice(["Dhr.", "Mevr.", "M.", "Mme", "Herr", "Frau", ""]),
                    first,
                    last,
                    rng.choice(["", "", "", "Acme NV", "Brouwerij De Koninck", "Société Générale"]),
                    f"{rng.choice(STREETS[lang])} {rng.randint(1, 250)}",
                    postal_code,
                    city,
                    country,
                    lang,
                    f"+32 {rng.randint(400, 499)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                    "unsubscribed" if rng.random() < 0.05 else "subscribed",
                ]
            )


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--into", choices=["list", "contacts"], default="list")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    path = workdir / "people.csv"
    started = time.perf_counter()
    generate(path, args.rows, args.seed)
    size = path.stat().st_size
    print(
        f"file:                {args.rows:,} rows, {size / 1024 / 1024:,.1f} MB ({time.perf_counter() - started:.1f} s to generate)"
    )

    import django
    from django.db import connections

    # The bench's own database, next to the configured one.
    from config import settings as project_settings

    base_name = project_settings.DATABASES["owner"]["NAME"]
    bench_name = f"{base_name}_bench_import"
    os.environ["CRM_DATABASE_NAME"] = bench_name
    project_settings.DATABASES["owner"]["NAME"] = bench_name
    project_settings.DATABASES["default"]["NAME"] = bench_name
    django.setup()

    import psycopg

    owner = connections["owner"].settings_dict
    admin_dsn = {
        "host": owner["HOST"] or None,
        "port": owner["PORT"] or None,
        "user": owner["USER"],
        "password": owner["PASSWORD"] or None,
        "dbname": base_name,
    }
    with psycopg.connect(
        **{k: v for k, v in admin_dsn.items() if v is not None}, autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{bench_name}"')

    from django.core.files import File
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from accounts.services import account_create
    from accounts.tenancy import tenant_atomic
    from contacts import imports
    from contacts.models import Contact, ContactList, ImportJob, ListEntry

    account = account_create(
        slug="bench",
        name="Bench",
        admin_email="bench@example.org",
        admin_password=os.urandom(16).hex(),
    )
    with tenant_atomic(account):
        target_list = ContactList.objects.create(name="Bench list") if args.into == "list" else None

    rss_before = _max_rss_mb()
    started = time.perf_counter()
    with tenant_atomic(account), path.open("rb") as handle:
        job = imports.import_create(
            upload=File(handle, name="people.csv"),
            target=args.into,
            contact_list=target_list,
            name="Bench import",
        )
        mapping = imports.mapping_suggest(headers=job.headers, target_kind=args.into)
        imports.import_start(job=job, mapping=mapping)
    # on_commit ran the (eager) task when the block above committed.
    elapsed = time.perf_counter() - started
    with tenant_atomic(account):
        job = ImportJob.objects.get(pk=job.pk)
        stored = (ListEntry if args.into == "list" else Contact).objects.count()
    rss_peak = _max_rss_mb()

    # The floor: the same bytes COPYed into an unindexed table of text columns.
    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with psycopg.connect(
        **{**{k: v for k, v in admin_dsn.items() if v is not None}, "dbname": bench_name}
    ) as conn:
        conn.execute(f"CREATE TABLE copy_floor ({columns})")
        conn.commit()
        copy_started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            path.open("rb") as handle,
            cursor.copy(
                "COPY copy_floor FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';')"
            ) as copy,
        ):
            while block := handle.read(1024 * 1024):
                copy.write(block)
        conn.commit()
        copy_elapsed = time.perf_counter() - copy_started

    print(f"mapping:             {mapping}")
    print(f"job:                 {job.status} {job.error}".rstrip())
    print(
        f"rows:                {job.rows_total:,} read, {job.rows_imported:,} imported "
        f"({stored:,} {'entries' if args.into == 'list' else 'contacts'}), {job.rows_rejected:,} rejected"
    )
    print(
        f"end to end:          {elapsed:.1f} s = {args.rows / elapsed:,.0f} rows/s  (target ≥ 50,000)"
    )
    print(f"plain COPY (floor):  {copy_elapsed:.1f} s = {args.rows / copy_elapsed:,.0f} rows/s")
    print(f"end to end / floor:  {elapsed / copy_elapsed:.1f} times")
    print(
        f"peak memory:         {rss_peak:,.0f} MB max RSS ({rss_before:,.0f} MB before the import)"
    )
    print(f"files in:            {workdir} (delete when done)")


if __name__ == "__main__":
    main()
