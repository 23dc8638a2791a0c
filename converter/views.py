from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import account_required
from contacts import selectors


@account_required("admin")
def converter_index(request: HttpRequest) -> HttpResponse:
    return render(request, "converter/index.html", {"lists": selectors.lists_with_counts()})
