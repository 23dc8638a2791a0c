from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import account_required
from mailings.models import Campaign, Workflow


@account_required()
def mailing_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "mailings/index.html",
        {
            "campaigns": Campaign.objects.prefetch_related("lists", "segments").order_by(
                "-created_at"
            ),
            "workflows": Workflow.objects.prefetch_related("lists", "segments").order_by("name"),
        },
    )
