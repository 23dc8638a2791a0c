from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import account_required
from consent.models import Purpose


@account_required()
def consent_index(request: HttpRequest) -> HttpResponse:
    return render(request, "consent/index.html", {"purposes": Purpose.objects.order_by("name")})
