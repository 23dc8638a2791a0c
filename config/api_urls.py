"""Every app's API routes under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    # Before contacts.api.urls: its router would read contacts/imports/ as a contact id.
    path("", include("contacts.api.urls_imports")),
    path("", include("contacts.api.urls")),
    path("", include("consent.api.urls")),
    path("", include("converter.api.urls")),
]
