from __future__ import annotations

from typing import Any

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.models import Account
from accounts.tenancy import tenant_atomic
from consent.models import AccessToken, BaselineRun
from consent.services import (
    access_token_issue,
    baseline_run_claim,
    baseline_run_step,
)
from contacts.models import Contact


@shared_task(acks_late=True)
def doi_confirmation_send(*, account_id: int, contact_id: int, payload: dict[str, Any]) -> None:
    """Issues the confirmation link and mails it, in the contact's language.

    The token is made here, not passed through the broker, so the plain link only ever exists in
    the e-mail. A contact erased in the meantime gets nothing.
    """
    from django.conf import settings

    with tenant_atomic(account_id):
        contact = Contact.objects.filter(pk=contact_id).first()
        if contact is None or not contact.email:
            return
        account = Account.objects.get(pk=account_id)
        token = access_token_issue(
            contact_id=contact.pk, kind=AccessToken.Kind.DOUBLE_OPT_IN, payload=payload
        )
        link = settings.SITE_URL + reverse("signup_confirm", args=[token])
        with translation.override(contact.language or "en"):
            context = {"account": account, "contact": contact, "link": link}
            subject = render_to_string("consent/email/confirm_subject.txt", context).strip()
            body = render_to_string("consent/email/confirm_body.txt", context)
        message = EmailMultiAlternatives(subject, body, None, [contact.email])
        message.send()


@shared_task(acks_late=True)
def baseline_run_execute(*, account_id: int, run_id: int) -> None:
    """Runs the GDPR baseline chunk by chunk, one transaction each, so the page sees progress
    and a crash loses at most one chunk (re-applying it records nothing twice)."""
    with tenant_atomic(account_id):
        if not baseline_run_claim(run_id=run_id):
            return
    try:
        while True:
            with tenant_atomic(account_id):
                if not baseline_run_step(run_id=run_id):
                    return
    except Exception as error:
        with tenant_atomic(account_id):
            BaselineRun.objects.filter(pk=run_id).update(
                status=BaselineRun.Status.FAILED, error=f"{type(error).__name__}: {error}"[:1000]
            )
        raise
