"""Possible duplicates: contacts with different e-mails that are probably one person.

Two contacts are suggested when their names are similar (typos, swapped first and last name,
initials) *and* something else ties them: the same phone number, postal code, e-mail local part or
a similar company. Scoring uses rapidfuzz; candidate pairs come from blocking keys (a postal code,
phone, company or e-mail local part combined with a name initial), so each contact is compared
only with the few that share a key: the work grows with the number of contacts, not its square.
Keys and pairs live in temporary tables; a key shared by more than BLOCK_MAX contacts is too
common to tell anything and is skipped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass, fields
from typing import Any

from rapidfuzz import fuzz

from contacts.normalize import clean_value

BLOCK_MAX = 200
THRESHOLD = 0.75

_NON_WORD = re.compile(r"[^\w\s]")
_LEGAL_FORMS = {
    "bv",
    "nv",
    "bvba",
    "srl",
    "sprl",
    "sa",
    "gmbh",
    "ag",
    "kg",
    "ltd",
    "llc",
    "inc",
    "vzw",
    "asbl",
    "ev",
    "co",
    "cv",
    "sarl",
    "sas",
    "plc",
}
_COMPANY_ABBREVIATIONS = {
    "intl": "international",
    "int": "international",
    "mgmt": "management",
    "svc": "services",
    "svcs": "services",
    "tech": "technology",
    "assoc": "associates",
    "bros": "brothers",
    "grp": "group",
}


def fold(value: object) -> str:
    """Lower case, accents and punctuation removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", clean_value(value).lower().replace("ß", "ss"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", text).split())


def phone_key(value: object) -> str:
    digits = re.sub(r"\D", "", clean_value(value))
    # The last eight digits survive every way of writing the country and trunk prefixes.
    return digits[-8:] if len(digits) >= 8 else ""


def postal_key(value: object) -> str:
    return re.sub(r"[\s-]", "", clean_value(value).upper())


_STREET_WORD = re.compile(r"(straat|strasse|str)\b")
_STREET_ABBREVIATIONS = {"av": "avenue", "bd": "boulevard", "pl": "place", "ch": "chaussee"}
_NUMBER = re.compile(r"\d+")


def street_key(value: object) -> str:
    """ "Kerkstr. 4", "Kerkstraat 4" and "Kerk Straat 4" all read "kerk straat 4"."""
    words = _STREET_WORD.sub(" straat", fold(value)).split()
    return " ".join(_STREET_ABBREVIATIONS.get(w, w) for w in words)


def _street_name(street: str) -> str:
    # "kerk straat 82 bus 2" → "kerk straat"; "12 rue de la gare" → "rue de la gare"
    before = _NUMBER.split(street, maxsplit=1)[0]
    if before.strip():
        return before.strip()
    return _NUMBER.sub("", street).strip()


def same_street(a: str, b: str) -> bool:
    """Same street name (allowing typos and abbreviations) and the same house number."""
    if _NUMBER.findall(a)[:1] != _NUMBER.findall(b)[:1]:
        return False
    return fuzz.ratio(_street_name(a), _street_name(b)) >= 85


def company_key(value: object) -> str:
    words = [_COMPANY_ABBREVIATIONS.get(w, w) for w in fold(value).split()]
    return " ".join(w for w in words if w not in _LEGAL_FORMS)


@dataclass(frozen=True)
class Person:
    id: int
    first: str
    last: str
    email_local: str
    phone: str
    postal: str
    street: str
    company: str

    @classmethod
    def of(
        cls,
        *,
        id: int,
        first_name: str,
        last_name: str,
        email: str | None,
        phone: str,
        postal_code: str,
        street: str,
        company_name: str,
    ) -> Person:
        return cls(
            id=id,
            first=fold(first_name),
            last=fold(last_name),
            email_local=(email or "").split("@")[0],
            phone=phone_key(phone),
            postal=postal_key(postal_code),
            street=street_key(street),
            company=company_key(company_name),
        )

    def initials(self) -> set[str]:
        return {word[0] for word in f"{self.first} {self.last}".split()}


def blocking_keys(person: Person) -> set[str]:
    keys: set[str] = set()
    initials = person.initials()
    if not initials:
        return keys
    for initial in initials:
        if person.postal:
            keys.add(f"p:{person.postal}:{initial}")
        if person.company:
            keys.add(f"c:{person.company[:5]}:{initial}")
    if person.phone:
        keys.add(f"t:{person.phone}")
    if len(person.email_local) >= 4:
        keys.add(f"e:{person.email_local}")
    return keys


def _part(x: str, y: str) -> float | None:
    """Similarity of two name parts; None when one is missing. An initial matches its name."""
    if not x or not y:
        return None
    x, y = x.replace(" ", ""), y.replace(" ", "")
    if len(x) == 1 or len(y) == 1:
        return 0.95 if x[0] == y[0] else 0.0
    if len(x) >= 2 and len(y) >= 2 and (x.startswith(y) or y.startswith(x)):
        return max(0.9, fuzz.ratio(x, y) / 100)
    return fuzz.ratio(x, y) / 100


def _combine(first: float | None, last: float | None) -> float:
    if first is None and last is None:
        return 0.0
    if last is None:
        return (first or 0.0) * 0.6
    if first is None:
        return last * 0.85
    return 0.45 * first + 0.55 * last


def name_similarity(a: Person, b: Person) -> float:
    straight = _combine(_part(a.first, b.first), _part(a.last, b.last))
    swapped = _combine(_part(a.first, b.last), _part(a.last, b.first))
    return max(straight, swapped)


def score_pair(a: Person, b: Person) -> tuple[float, list[str]]:
    """(score 0..1, reasons). Zero when nothing but the name ties them."""
    name = name_similarity(a, b)
    if name < 0.8:
        return 0.0, []
    reasons: list[str] = []
    evidence = 0.0
    if a.phone and a.phone == b.phone:
        reasons.append("same phone")
        evidence = max(evidence, 1.0)
    contradictions = 0
    if a.postal and a.postal == b.postal:
        if a.street and b.street:
            if same_street(a.street, b.street):
                reasons.append("same address")
                evidence = max(evidence, 1.0)
            else:
                contradictions += 1
                reasons.append("same postal code")
                evidence = max(evidence, 0.5)
        else:
            reasons.append("same postal code")
            evidence = max(evidence, 0.75)
    if a.company and b.company and fuzz.token_set_ratio(a.company, b.company) >= 90:
        reasons.append("same company")
        evidence = max(evidence, 0.85)
    if len(a.email_local) >= 4 and a.email_local == b.email_local:
        reasons.append("same e-mail name")
        evidence = max(evidence, 0.9)
    if not reasons:
        return 0.0, []
    # Facts that are present on both sides and differ speak against one person.
    if a.phone and b.phone and a.phone != b.phone:
        contradictions += 1
    if a.postal and b.postal and a.postal != b.postal:
        contradictions += 1
    bonus = 0.05 * (len(reasons) - 1)
    score = name * (0.55 + 0.45 * evidence) + bonus - 0.2 * contradictions
    reasons.insert(0, "similar names" if name < 0.99 else "same name")
    return max(0.0, min(1.0, round(score, 3))), reasons


def candidate_pairs(people: Iterable[Person]) -> Iterator[tuple[int, int]]:
    """In-memory blocking, for tests and the benchmark; the scan does the same in SQL."""
    blocks: dict[str, list[int]] = {}
    for person in people:
        for key in blocking_keys(person):
            blocks.setdefault(key, []).append(person.id)
    seen: set[tuple[int, int]] = set()
    for ids in blocks.values():
        if len(ids) < 2 or len(ids) > BLOCK_MAX:
            continue
        for i, x in enumerate(ids):
            for y in ids[i + 1 :]:
                pair = (x, y) if x < y else (y, x)
                if pair not in seen:
                    seen.add(pair)
                    yield pair


def find_duplicates(people: list[Person]) -> list[tuple[int, int, float, list[str]]]:
    by_id = {p.id: p for p in people}
    found = []
    for x, y in candidate_pairs(people):
        score, reasons = score_pair(by_id[x], by_id[y])
        if score >= THRESHOLD:
            found.append((x, y, score, reasons))
    return found


# --- The background scan ----------------------------------------------------------------------

CHUNK = 5000
_PERSON_COLUMNS = [
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "postal_code",
    "street",
    "company_name",
]


def _person(row: Sequence[Any]) -> Person:
    values: dict[str, Any] = dict(zip(_PERSON_COLUMNS, row, strict=True))
    return Person.of(**values)


_UPSERT_SQL = """
INSERT INTO contacts_duplicatesuggestion
       (account_id, contact_a_id, contact_b_id, score, reasons, status, scan_id, created_at)
SELECT %s, v.a, v.b, v.score, v.reasons::jsonb, 'open', %s, now()
  FROM unnest(%s::bigint[], %s::bigint[], %s::float8[], %s::text[]) AS v(a, b, score, reasons)
ON CONFLICT (account_id, contact_a_id, contact_b_id) DO UPDATE
   SET score = EXCLUDED.score, reasons = EXCLUDED.reasons, scan_id = EXCLUDED.scan_id
 WHERE contacts_duplicatesuggestion.status = 'open'
"""


def _suggestions_upsert(
    *, account_id: int, scan_id: int, hits: list[tuple[int, int, float, list[str]]]
) -> None:
    """One statement per chunk. A contact deleted since the scan read it makes the statement fail
    its foreign key; then the chunk is retried without the pairs of vanished contacts."""
    from django.db import IntegrityError, connection, transaction

    from contacts.models import Contact

    def run(rows: list[tuple[int, int, float, list[str]]]) -> None:
        with connection.cursor() as cursor:
            # Django's foreign keys are deferred to the commit; the check must happen here.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                _UPSERT_SQL,
                [
                    account_id,
                    scan_id,
                    [h[0] for h in rows],
                    [h[1] for h in rows],
                    [h[2] for h in rows],
                    [json.dumps(h[3]) for h in rows],
                ],
            )

    try:
        with transaction.atomic():
            run(hits)
    except IntegrityError:
        ids = {x for h in hits for x in h[:2]}
        alive = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
        run([h for h in hits if h[0] in alive and h[1] in alive])


def scan_execute(*, account_id: int, scan_id: int) -> None:
    """Runs one scan: blocking keys into a temporary table (COPY, a chunk of contacts per
    transaction), candidate pairs in one SQL statement, then the pairs scored in chunks and the
    suggestions upserted in one statement per chunk. Progress is committed after each chunk.

    Idempotent: suggestions are keyed by the pair; a dismissed pair stays dismissed; an open
    suggestion that this scan no longer finds is removed at the end."""
    from django.db import connection
    from django.utils import timezone

    from accounts.tenancy import tenant_atomic
    from contacts.models import Contact, DuplicateScan

    def progress(**values: object) -> None:
        with tenant_atomic(account_id):
            DuplicateScan.objects.filter(pk=scan_id).update(heartbeat_at=timezone.now(), **values)

    with tenant_atomic(account_id):
        total = Contact.objects.count()
    progress(contacts_total=total)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS dup_keys, dup_pairs, dup_people")
        cursor.execute("CREATE TEMP TABLE dup_keys (contact_id bigint NOT NULL, k text NOT NULL)")
        # The compared form of each contact, so scoring reads pairs from tables this scan owns
        # and has analysed (a freshly imported account has no statistics yet).
        cursor.execute(
            "CREATE TEMP TABLE dup_people (id bigint PRIMARY KEY, first text, last text,"
            " email_local text, phone text, postal text, street text, company text)"
        )
    scanned, after = 0, 0
    while True:
        with tenant_atomic(account_id):
            rows = list(
                Contact.objects.filter(pk__gt=after)
                .order_by("pk")
                .values_list(*_PERSON_COLUMNS)[:CHUNK]
            )
            if not rows:
                break
            people = [_person(row) for row in rows]
            with connection.cursor() as cursor:
                with cursor.copy("COPY dup_keys (contact_id, k) FROM STDIN") as copy:
                    for person in people:
                        for key in blocking_keys(person):
                            copy.write_row((person.id, key))
                with cursor.copy("COPY dup_people FROM STDIN") as copy:
                    for person in people:
                        copy.write_row(astuple(person))
        after = int(rows[-1][0])
        scanned += len(rows)
        progress(contacts_scanned=scanned, progress=0.4 * scanned / max(total, 1))

    with tenant_atomic(account_id), connection.cursor() as cursor:
        cursor.execute("CREATE INDEX ON dup_keys (k)")
        # Temporary tables get no statistics from autovacuum; without them the planner guesses.
        cursor.execute("ANALYZE dup_keys")
        cursor.execute(
            """
            CREATE TEMP TABLE dup_pairs AS
            SELECT DISTINCT a.contact_id AS a, b.contact_id AS b
              FROM (SELECT k FROM dup_keys GROUP BY k HAVING count(*) BETWEEN 2 AND %s) blocks
              JOIN dup_keys a ON a.k = blocks.k
              JOIN dup_keys b ON b.k = blocks.k AND a.contact_id < b.contact_id
            """,
            [BLOCK_MAX],
        )
        cursor.execute("CREATE INDEX ON dup_pairs (a, b)")
        cursor.execute("ANALYZE dup_pairs")
        cursor.execute("ANALYZE dup_people")
        cursor.execute("SELECT count(*) FROM dup_pairs")
        pair_total = cursor.fetchone()[0]
    progress(progress=0.5)

    compared, found, last = 0, 0, (0, 0)
    while True:
        with tenant_atomic(account_id), connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT p.a, p.b, x.*, y.*
                  FROM (SELECT a, b FROM dup_pairs WHERE (a, b) > (%s, %s) ORDER BY a, b LIMIT %s) p
                  JOIN dup_people x ON x.id = p.a
                  JOIN dup_people y ON y.id = p.b
                 ORDER BY p.a, p.b
                """,
                [last[0], last[1], CHUNK],
            )
            pairs = cursor.fetchall()
            if not pairs:
                break
            width = len(fields(Person))
            hits: list[tuple[int, int, float, list[str]]] = []
            for row in pairs:
                a, b = Person(*row[2 : 2 + width]), Person(*row[2 + width :])
                score, reasons = score_pair(a, b)
                if score >= THRESHOLD:
                    hits.append((a.id, b.id, score, reasons))
            if hits:
                _suggestions_upsert(account_id=account_id, scan_id=scan_id, hits=hits)
            last = (int(pairs[-1][0]), int(pairs[-1][1]))
        compared += len(pairs)
        found += len(hits)
        progress(
            pairs_compared=compared,
            suggestions_found=found,
            progress=0.5 + 0.5 * compared / max(pair_total, 1),
        )

    with tenant_atomic(account_id), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM contacts_duplicatesuggestion WHERE account_id = %s AND status = 'open'"
            " AND scan_id IS DISTINCT FROM %s",
            [account_id, scan_id],
        )
        cursor.execute("DROP TABLE IF EXISTS dup_keys, dup_pairs, dup_people")
