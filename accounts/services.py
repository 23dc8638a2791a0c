from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Account, ApiKey, Membership
from accounts.tenancy import tenant_atomic


def user_get_or_create(*, email: str, password: str | None = None) -> tuple[User, bool]:
    email = email.strip().lower()
    user = User.objects.filter(username=email).first()
    if user is not None:
        return user, False
    user = User(username=email, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user, True


def account_create(
    *, slug: str, name: str, admin_email: str, admin_password: str | None
) -> Account:
    with transaction.atomic():
        account = Account.objects.create(slug=slug, name=name)
        user, _ = user_get_or_create(email=admin_email, password=admin_password)
        with tenant_atomic(account):
            Membership.objects.create(account=account, user=user, role=Membership.Role.ADMIN)
    return account


def api_key_create(*, account: Account, role: str, name: str = "API key") -> tuple[ApiKey, str]:
    """Returns the stored key and the plain key, which is never stored and cannot be shown again."""
    plain = ApiKey.generate(account.pk)
    with tenant_atomic(account):
        api_key = ApiKey.objects.create(
            account=account, role=role, name=name, key_hash=ApiKey.hash(plain), prefix=plain[:16]
        )
    return api_key, plain


def membership_add(
    *, account: Account, email: str, role: str, request: HttpRequest | None = None
) -> Membership:
    """Adds a user to the account; a new user gets an e-mail with a link to choose a password."""
    user, created = user_get_or_create(email=email)
    if Membership.objects.filter(user=user).exists():
        raise ValidationError(f"{user.email} is already a member of this account.")
    membership = Membership.objects.create(account=account, user=user, role=role)
    if created:
        transaction.on_commit(lambda: invite_send(user=user, account=account))
    return membership


def invite_send(*, user: Any, account: Account) -> None:
    """E-mails a new user a link to choose their password (Django's password-reset token)."""
    link = settings.SITE_URL + reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    body = render_to_string(
        "registration/invite_email.txt", {"account": account, "link": link, "user": user}
    )
    send_mail(f"You have been invited to {account.name}", body, None, [user.email])


def _admins_left_without(membership: Membership) -> int:
    return Membership.objects.filter(role=Membership.Role.ADMIN).exclude(pk=membership.pk).count()


def membership_set_role(*, membership: Membership, role: str) -> Membership:
    demoted = membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN
    if demoted and _admins_left_without(membership) == 0:
        raise ValidationError("An account needs at least one admin.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def membership_remove(*, membership: Membership) -> None:
    if membership.role == Membership.Role.ADMIN and _admins_left_without(membership) == 0:
        raise ValidationError("An account needs at least one admin.")
    membership.delete()
