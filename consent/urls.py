from django.urls import path

from consent import public_views, views

urlpatterns = [
    path("consent/", views.consent_index, name="consent"),
    path("consent/settings/", views.consent_settings, name="consent_settings"),
    path("consent/purposes/<int:purpose_id>/", views.purpose_edit, name="consent_purpose"),
    path(
        "consent/subscription-types/",
        views.subscription_type_create,
        name="consent_subscription_type_create",
    ),
    path(
        "consent/subscription-types/<int:type_id>/",
        views.subscription_type_edit,
        name="consent_subscription_type",
    ),
    path("consent/baseline/", views.baseline, name="consent_baseline"),
    path("consent/baseline/runs/<int:run_id>/", views.baseline_run, name="consent_baseline_run"),
    path("consent/requests/", views.requests_index, name="consent_requests"),
    path(
        "consent/requests/<int:request_id>/done/",
        views.request_complete,
        name="consent_request_complete",
    ),
    path("consent/contacts/<int:contact_id>/", views.contact_consent, name="consent_contact"),
    path(
        "consent/contacts/<int:contact_id>/export/",
        views.contact_export,
        name="consent_contact_export",
    ),
    path(
        "consent/contacts/<int:contact_id>/erase/",
        views.contact_erase,
        name="consent_contact_erase",
    ),
    # Public pages (no sign-in): personal links and the sign-up form.
    path("p/<str:token>/", public_views.preferences, name="preferences"),
    path(
        "p/<str:token>/unsubscribe/",
        public_views.one_click_unsubscribe,
        name="one_click_unsubscribe",
    ),
    path("signup/<slug:slug>/", public_views.signup, name="signup"),
    path("confirm/<str:token>/", public_views.signup_confirm, name="signup_confirm"),
]
