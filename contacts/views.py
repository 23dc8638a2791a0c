from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import account_required
from contacts import selectors
from contacts.models import Contact


@account_required()
def contact_list(request: HttpRequest) -> HttpResponse:
    contacts = Contact.objects.order_by("-id")[:50]
    return render(request, "contacts/contact_list.html", {"contacts": contacts})


@account_required()
def list_index(request: HttpRequest) -> HttpResponse:
    return render(request, "contacts/list_index.html", {"lists": selectors.lists_with_counts()})
