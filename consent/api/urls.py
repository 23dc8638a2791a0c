from django.urls import path

from consent.api import views

urlpatterns = [
    path("purposes/", views.PurposeList.as_view(), name="api-purposes"),
    path(
        "subscription-types/",
        views.SubscriptionTypeList.as_view(),
        name="api-subscription-types",
    ),
    path(
        "contacts/<int:contact_id>/consents/",
        views.ContactConsentList.as_view(),
        name="api-contact-consents",
    ),
    path(
        "contacts/<int:contact_id>/preference-link/",
        views.PreferenceLink.as_view(),
        name="api-preference-link",
    ),
    path("contacts/<int:contact_id>/export/", views.ContactExport.as_view(), name="api-export"),
    path("contacts/<int:contact_id>/erase/", views.ContactErase.as_view(), name="api-erase"),
    path("signups/", views.SignupCreate.as_view(), name="api-signups"),
    path("gdpr-baseline/", views.GdprBaseline.as_view(), name="api-gdpr-baseline"),
    path(
        "gdpr-baseline/runs/<int:pk>/",
        views.GdprBaselineRunDetail.as_view(),
        name="api-gdpr-baseline-run",
    ),
    path(
        "data-subject-requests/",
        views.DataSubjectRequestList.as_view(),
        name="api-data-subject-requests",
    ),
]
