from __future__ import annotations

from typing import Any

from django import template

from consent.selectors import contact_timeline
from contacts.models import Contact

register = template.Library()


@register.inclusion_tag("consent/_contact_timeline.html")
def consent_timeline(contact: Contact, limit: int = 20, manage: bool = True) -> dict[str, Any]:
    """The contact's consent ledger as a timeline: `{% consent_timeline contact %}` (newest
    `limit` events; `limit=0` for all), with a link to the contact's consent page (`manage`)."""
    events = contact_timeline(contact_id=contact.pk)
    if limit:
        shown = list(events[: limit + 1])
        more = len(shown) > limit
        return {"contact": contact, "events": shown[:limit], "more": more, "manage": manage}
    return {"contact": contact, "events": list(events), "more": False, "manage": manage}
