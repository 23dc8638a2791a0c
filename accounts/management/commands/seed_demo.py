"""A believable demo account: a Belgian/Dutch/German arts organisation with six old mailing lists
that overlap and disagree, unsubscribed and invalid entries, two workflows and a scheduled
campaign. Idempotent: a second run changes nothing."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Membership
from accounts.services import account_create, user_get_or_create
from accounts.tenancy import tenant_atomic
from consent.services import purposes_ensure_defaults
from contacts.models import ContactList, ListEntry
from contacts.normalize import normalize_email_or_none
from mailings.models import Campaign, CampaignList, Workflow, WorkflowList

SLUG = "demo"
ADMIN = ("admin@demo.example", "demo-admin-2026")
MARKETER = ("marketer@demo.example", "demo-marketer-2026")

FIRST = {
    "nl": [
        "Jan",
        "Els",
        "Pieter",
        "Anke",
        "Wouter",
        "Sofie",
        "Bram",
        "Lotte",
        "Koen",
        "Inge",
        "Joris",
        "Marieke",
    ],
    "fr": [
        "Jean",
        "Marie",
        "Luc",
        "Camille",
        "Olivier",
        "Chloé",
        "Thierry",
        "Élodie",
        "Benoît",
        "Aurélie",
    ],
    "de": [
        "Hans",
        "Anna",
        "Jürgen",
        "Katrin",
        "Matthias",
        "Sabine",
        "Lukas",
        "Jana",
        "Uwe",
        "Birgit",
    ],
}
LAST = {
    "nl": [
        "Peeters",
        "Janssens",
        "De Vries",
        "Van den Berg",
        "Maes",
        "Willems",
        "Bakker",
        "Claes",
        "Mertens",
    ],
    "fr": [
        "Dubois",
        "Lambert",
        "Dupont",
        "Martin",
        "Lefèvre",
        "Simon",
        "Laurent",
        "Leclercq",
        "Renard",
    ],
    "de": [
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Becker",
        "Hoffmann",
        "Schäfer",
        "Krüger",
    ],
}
CITIES = {
    "nl": [
        ("Antwerpen", "2000", "BE"),
        ("Gent", "9000", "BE"),
        ("Maastricht", "6211", "NL"),
        ("Utrecht", "3511", "NL"),
    ],
    "fr": [
        ("Liège", "4000", "BE"),
        ("Namur", "5000", "BE"),
        ("Bruxelles", "1000", "BE"),
        ("Lille", "59000", "FR"),
    ],
    "de": [
        ("Aachen", "52062", "DE"),
        ("Köln", "50667", "DE"),
        ("Eupen", "4700", "BE"),
        ("Düsseldorf", "40213", "DE"),
    ],
}
STREETS = {"nl": "Kerkstraat", "fr": "Rue de la Station", "de": "Hauptstraße"}
SALUTATION = {"nl": ("Dhr.", "Mevr."), "fr": ("M.", "Mme"), "de": ("Herr", "Frau")}
LETTER = {
    "nl": ("Geachte heer", "Geachte mevrouw"),
    "fr": ("Cher Monsieur", "Chère Madame"),
    "de": ("Sehr geehrter Herr", "Sehr geehrte Frau"),
}
COMPANIES = [
    "",
    "",
    "",
    "Brouwerij Het Anker",
    "Atelier Lumière",
    "Stadtwerke Aachen",
    "Galerie Noord",
    "Musée de la Boverie",
]

LISTS = [
    ("Nieuwsbrief NL", "nl", 1400),
    ("Lettre d'information FR", "fr", 1100),
    ("Newsletter DE", "de", 900),
    ("Evenementen 2023", None, 800),
    ("Ledenlijst", None, 600),
    ("Messe Köln 2024", "de", 500),
]


def _people(rng: random.Random, count: int) -> list[dict[str, str]]:
    people = []
    for n in range(count):
        lang = rng.choice(["nl", "nl", "fr", "de"])
        female = rng.random() < 0.5
        first = rng.choice(FIRST[lang])
        last = rng.choice(LAST[lang])
        city, postal, country = rng.choice(CITIES[lang])
        local = (
            f"{first}.{last}".lower()
            .replace(" ", "")
            .replace("é", "e")
            .replace("è", "e")
            .replace("ü", "ue")
            .replace("ä", "ae")
            .replace("î", "i")
            .replace("ö", "oe")
            .replace("ç", "c")
        )
        people.append(
            {
                "email": f"{local}.{n}@{rng.choice(['example.be', 'example.nl', 'example.de', 'example.fr'])}",
                "salutation": SALUTATION[lang][female],
                "first_name": first,
                "last_name": last,
                "company_name": rng.choice(COMPANIES),
                "letter_salutation": f"{LETTER[lang][female]} {last}",
                "phone": f"+32 4{rng.randint(70, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                "street": f"{STREETS[lang]} {rng.randint(1, 180)}",
                "postal_code": postal,
                "city": city,
                "country": country,
                "language": lang,
            }
        )
    return people


def _entry(rng: random.Random, person: dict[str, str], contact_list: ContactList) -> ListEntry:
    fields = dict(person)
    roll = rng.random()
    if roll < 0.08:  # the lists disagree: another phone or street
        fields["phone"] = (
            f"+32 2 {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
        )
    elif roll < 0.14:
        fields["street"] = f"{fields['street'].rsplit(' ', 1)[0]} {rng.randint(1, 180)}"
    elif roll < 0.24:  # an older list that knew less
        fields["phone"] = ""
        fields["company_name"] = ""
    status = ListEntry.Status.SUBSCRIBED
    if rng.random() < 0.05:
        status = ListEntry.Status.UNSUBSCRIBED
    elif rng.random() < 0.01:
        status = ListEntry.Status.BOUNCED
    email = fields.pop("email")
    if rng.random() < 0.01:
        email = email.replace("@", " at ")  # legacy data entry error: stays invalid, never "fixed"
    return ListEntry(
        account_id=contact_list.account_id,
        list=contact_list,
        email=email,
        email_normalized=normalize_email_or_none(email),
        status=status,
        **fields,
    )


class Command(BaseCommand):
    help = "Create the demo account (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(slug=SLUG).first()
        if account is not None:
            self.stdout.write("The demo account exists already.")
            return
        rng = random.Random(2026)
        with transaction.atomic():
            account = account_create(
                slug=SLUG,
                name="Kunstverein Maas-Rhein",
                admin_email=ADMIN[0],
                admin_password=ADMIN[1],
            )
            admin, _ = user_get_or_create(email=ADMIN[0])
            admin.is_staff = True  # may read the local outbox
            admin.save(update_fields=["is_staff"])
            marketer, _ = user_get_or_create(email=MARKETER[0], password=MARKETER[1])
            with tenant_atomic(account):
                Membership.objects.create(user=marketer, role=Membership.Role.MARKETER)
                purposes_ensure_defaults()
                self._lists(rng, account)
        self.stdout.write(f"Created the demo account {account.name}.")

    def _lists(self, rng: random.Random, account: Account) -> None:
        people = _people(rng, 3000)
        by_language = {lang: [p for p in people if p["language"] == lang] for lang in FIRST}
        now = timezone.now()
        lists = []
        for name, lang, size in LISTS:
            contact_list = ContactList.objects.create(name=name)
            pool = by_language[lang] if lang else people
            chosen = rng.sample(pool, min(size, len(pool)))
            ListEntry.objects.bulk_create(_entry(rng, person, contact_list) for person in chosen)
            lists.append(contact_list)
        for n, contact_list in enumerate(lists[:4]):
            campaign = Campaign.objects.create(
                name=f"{contact_list.name} — {['spring', 'summer', 'autumn', 'winter'][n]} issue",
                status=Campaign.Status.SENT,
                sent_at=now - timedelta(days=30 * (n + 1)),
            )
            CampaignList.objects.create(campaign=campaign, list=contact_list)
        scheduled = Campaign.objects.create(
            name="Opening night invitation",
            status=Campaign.Status.SCHEDULED,
            scheduled_at=now + timedelta(days=10),
        )
        for contact_list in lists[:2]:
            CampaignList.objects.create(campaign=scheduled, list=contact_list)
        welcome = Workflow.objects.create(name="Welcome series")
        WorkflowList.objects.create(workflow=welcome, list=lists[0])
        renewal = Workflow.objects.create(name="Membership renewal reminder")
        WorkflowList.objects.create(workflow=renewal, list=lists[4])
