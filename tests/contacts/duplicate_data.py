"""Generated contacts with known true duplicates, to measure the duplicate finder.

Each base person may get a twin with another e-mail and realistic damage: typos, swapped first
and last names, initials, abbreviations, missing fields, other phone formats. Relatives share a
surname and an address but are different people (hard negatives).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from contacts.duplicates import Person

FIRST = [
    "Jan",
    "Pieter",
    "Luc",
    "Marc",
    "Koen",
    "Bart",
    "Wim",
    "Tom",
    "Dirk",
    "Geert",
    "Sofie",
    "Ann",
    "Els",
    "Griet",
    "Lies",
    "Marie",
    "Hélène",
    "Amélie",
    "François",
    "Jean",
    "Pierre",
    "Louis",
    "Camille",
    "Chloé",
    "Julien",
    "Nathalie",
    "Isabelle",
    "Jürgen",
    "Klaus",
    "Stefan",
    "Uwe",
    "Birgit",
    "Sabine",
    "Jörg",
    "Katrin",
    "Matthias",
    "Annelies",
    "Joost",
    "Femke",
    "Sanne",
    "Thijs",
    "Ruben",
    "Noah",
    "Emma",
    "Lotte",
    "Mathis",
    "Léa",
    "Hugo",
    "Elise",
    "Margot",
    "Arnaud",
    "Benoît",
    "Cédric",
    "Delphine",
    "Émilie",
    "Florian",
    "Gaëlle",
    "Jérôme",
    "Maxime",
    "Océane",
    "Quentin",
    "Sébastien",
    "Valérie",
    "Yannick",
    "Andreas",
    "Christian",
    "Dieter",
    "Frank",
    "Heike",
    "Ingrid",
    "Monika",
    "Rainer",
    "Thomas",
    "Ursula",
    "Wolfgang",
    "Bram",
    "Daan",
    "Eva",
    "Floor",
    "Jesse",
    "Lars",
    "Milan",
    "Nina",
    "Roos",
    "Stijn",
    "Tess",
    "Vera",
    "Arne",
    "Brecht",
    "Dries",
    "Jef",
    "Kobe",
    "Lore",
    "Mieke",
    "Nele",
    "Seppe",
    "Wout",
]
LAST = [
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "De Smet",
    "Dubois",
    "Lambert",
    "Dupont",
    "Martin",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Leroy",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schäfer",
    "Van den Berg",
    "De Vries",
    "Van Dijk",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "De Boer",
    "Mulder",
    "De Groot",
    "Bos",
    "Vos",
    "Hendrickx",
    "Vermeulen",
    "Van Damme",
    "Desmet",
    "Verstraete",
    "Michiels",
    "Coppens",
    "Segers",
    "Hermans",
    "Renard",
    "Fontaine",
    "Claessens",
    "Dewulf",
    "Pauwels",
    "Vandevelde",
    "Devos",
    "Lemmens",
    "Aerts",
    "Van Hoof",
    "Vermeersch",
    "Declercq",
    "Baert",
    "Cools",
    "De Backer",
    "Verhoeven",
    "Stevens",
    "Timmermans",
    "Girard",
    "Bonnet",
    "Dupuis",
    "Moreau",
    "Rousseau",
    "Mercier",
    "Blanc",
    "Guérin",
    "Faure",
    "Chevalier",
    "Roux",
    "Vincent",
    "Morel",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Jansen",
    "De Jong",
    "Van Leeuwen",
    "Dekker",
    "Brouwer",
    "De Wit",
    "Dijkstra",
    "Smits",
]
STREETS = [
    "Kerkstraat",
    "Stationsstraat",
    "Rue de la Gare",
    "Hauptstraße",
    "Dorpsstraat",
    "Molenstraat",
    "Rue du Moulin",
    "Bahnhofstraße",
    "Nieuwstraat",
    "Schoolstraat",
]
CITIES = [
    ("1000", "Brussel"),
    ("2000", "Antwerpen"),
    ("9000", "Gent"),
    ("3000", "Leuven"),
    ("4000", "Liège"),
    ("5000", "Namur"),
    ("8000", "Brugge"),
    ("1012 AB", "Amsterdam"),
    ("50667", "Köln"),
    ("52062", "Aachen"),
]
COMPANIES = [
    "Acme International BV",
    "Brouwerij De Kroon NV",
    "Technologie Services SA",
    "Müller Logistik GmbH",
    "Van Dijk & Zonen",
    "Bakkerij Smit",
    "Atelier Fontaine SPRL",
    "Global Management Group",
    "Dubois Consulting",
    "Nordsee Fisch AG",
    "",
]
DOMAINS = ["gmail.com", "telenet.be", "proximus.be", "ziggo.nl", "web.de", "outlook.com"]


@dataclass(frozen=True)
class Row:
    key: int  # the person's identity: rows with the same key are one person
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    postal_code: str
    city: str
    company_name: str


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "double", "replace"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeiounrst") + word[i + 1 :]


def _strip_accents(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _abbreviate_company(name: str) -> str:
    return (
        name.replace("International", "Intl.")
        .replace("Management", "Mgmt")
        .replace("Services", "Svcs")
        .replace(" BV", "")
        .replace(" NV", " N.V.")
    )


def _reformat_phone(phone: str) -> str:
    digits = phone.replace(" ", "")
    return "+32 " + digits[1:4] + " " + digits[4:] if digits.startswith("0") else "0" + digits[3:]


def _damage(rng: random.Random, row: Row, email: str) -> Row:
    twin = replace(row, email=email)
    damages = rng.sample(
        [
            "typo_last",
            "typo_first",
            "swap",
            "initial",
            "drop_phone",
            "drop_postal",
            "drop_company",
            "abbrev",
            "phone_format",
            "accents",
            "street",
        ],
        k=rng.randint(1, 3),
    )
    for damage in damages:
        if damage == "typo_last":
            twin = replace(twin, last_name=_typo(rng, twin.last_name))
        elif damage == "typo_first":
            twin = replace(twin, first_name=_typo(rng, twin.first_name))
        elif damage == "swap":
            twin = replace(twin, first_name=twin.last_name, last_name=twin.first_name)
        elif damage == "initial" and twin.first_name:
            twin = replace(twin, first_name=twin.first_name[0] + ".")
        elif damage == "drop_phone":
            twin = replace(twin, phone="")
        elif damage == "drop_postal" and (twin.phone or twin.company_name):
            twin = replace(twin, postal_code="", street="", city="")
        elif damage == "drop_company":
            twin = replace(twin, company_name="")
        elif damage == "abbrev":
            twin = replace(
                twin,
                company_name=_abbreviate_company(twin.company_name),
                street=twin.street.replace("straat", "str.").replace("straße", "str."),
            )
        elif damage == "phone_format" and twin.phone:
            twin = replace(twin, phone=_reformat_phone(twin.phone))
        elif damage == "accents":
            twin = replace(
                twin,
                first_name=_strip_accents(twin.first_name),
                last_name=_strip_accents(twin.last_name).upper(),
            )
        elif damage == "street":
            twin = replace(twin, street=twin.street + " bus 2")
    if not (twin.phone or twin.postal_code or twin.company_name):
        twin = replace(twin, postal_code=row.postal_code)  # something must tie them
    return twin


def generate(
    n: int, *, duplicate_rate: float = 0.2, relative_rate: float = 0.1, seed: int = 7
) -> tuple[list[Row], set[tuple[int, int]]]:
    """`n` base people plus twins and relatives; returns the rows and the true duplicate pairs
    as (row index, row index) with the lower index first."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for key in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        postal, city = rng.choice(CITIES)
        postal = postal[:-2] + (
            f"{rng.randrange(100):02d}"
            if postal[-1].isdigit()
            else rng.choice(["AB", "CD", "EF", "GH", "KL", "MN", "PR", "ST", "VW", "XZ"])
        )
        has_phone = rng.random() < 0.6
        rows.append(
            Row(
                key=key,
                first_name=first,
                last_name=last,
                email=f"{_strip_accents(first).lower()}.{_strip_accents(last).lower().replace(' ', '')}{key}@{rng.choice(DOMAINS)}",
                phone=f"04{rng.randint(70, 99)} {rng.randint(100000, 999999)}" if has_phone else "",
                street=f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
                postal_code=postal,
                city=city,
                company_name=rng.choice(COMPANIES) if rng.random() < 0.5 else "",
            )
        )
    extra: list[Row] = []
    for row in rows[:n]:
        if rng.random() < duplicate_rate:
            extra.append(_damage(rng, row, f"{row.key}.other@{rng.choice(DOMAINS)}"))
        if rng.random() < relative_rate:
            other_first = rng.choice([f for f in FIRST if f[0] != row.first_name[0]])
            extra.append(
                replace(
                    row,
                    key=n + len(extra),
                    first_name=other_first,
                    email=f"relative{len(extra)}@{rng.choice(DOMAINS)}",
                    phone="",
                    company_name="",
                )
            )
    rows.extend(extra)
    by_key: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        by_key.setdefault(row.key, []).append(index)
    truth = {(ids[0], ids[1]) for ids in by_key.values() if len(ids) == 2}
    return rows, truth


def as_people(rows: list[Row]) -> list[Person]:
    """The generated rows as the matcher sees contacts, numbered by position."""
    return [
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
