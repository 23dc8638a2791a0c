from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet

from contacts.models import ContactList, ListEntry


def lists_with_counts() -> QuerySet[ContactList, ContactList]:
    """Lists with their entry counts and the date of the last campaign sent to them."""
    return ContactList.objects.annotate(
        entry_count=Count("entries", distinct=True),
        subscribed_count=Count(
            "entries", filter=Q(entries__status=ListEntry.Status.SUBSCRIBED), distinct=True
        ),
        unsubscribed_count=Count(
            "entries", filter=Q(entries__status=ListEntry.Status.UNSUBSCRIBED), distinct=True
        ),
        last_campaign_sent_at=Max("campaigns__sent_at"),
    ).order_by("name", "id")


def dashboard_counts() -> dict[str, int]:
    from contacts.models import Contact, Suppression

    return {
        "contacts": Contact.objects.count(),
        "lists": ContactList.objects.count(),
        "suppressions": Suppression.objects.count(),
    }
