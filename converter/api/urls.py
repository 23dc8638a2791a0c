from django.urls import path

from converter.api import views

urlpatterns = [
    path("conversions/", views.ConversionListView.as_view(), name="api-conversions"),
    path(
        "conversions/<int:conversion_id>/",
        views.ConversionDetailView.as_view(),
        name="api-conversion",
    ),
    path(
        "conversions/<int:conversion_id>/steps/<int:position>/conflicts/",
        views.ConflictListView.as_view(),
        name="api-conversion-conflicts",
    ),
    path(
        "conversions/<int:conversion_id>/steps/<int:position>/resolve/",
        views.StepResolveView.as_view(),
        name="api-conversion-resolve",
    ),
    path(
        "conversions/<int:conversion_id>/lists/",
        views.ConversionListAddView.as_view(),
        name="api-conversion-lists",
    ),
    path(
        "conversions/<int:conversion_id>/confirm/",
        views.ConversionConfirmView.as_view(),
        name="api-conversion-confirm",
    ),
    path(
        "conversions/<int:conversion_id>/cancel/",
        views.ConversionCancelView.as_view(),
        name="api-conversion-cancel",
    ),
    path(
        "conversions/<int:conversion_id>/resume/",
        views.ConversionResumeView.as_view(),
        name="api-conversion-resume",
    ),
]
