from __future__ import annotations

from django.db.models import Max, OuterRef, QuerySet, Subquery

from mailings.models import Campaign, CampaignList


def last_campaign_sent_at() -> Subquery:
    """For annotating lists: when a campaign was last sent to the list (None if never)."""
    return Subquery(
        CampaignList.objects.filter(list=OuterRef("pk"), campaign__status=Campaign.Status.SENT)
        .values("list")
        .annotate(last=Max("campaign__sent_at"))
        .values("last")[:1]
    )


def scheduled_campaigns() -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(status=Campaign.Status.SCHEDULED)
        .prefetch_related("lists", "segments")
        .order_by("scheduled_at", "id")
    )
