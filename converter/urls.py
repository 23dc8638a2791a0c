from django.urls import path

from converter import views

urlpatterns = [
    path("converter/", views.converter_index, name="converter"),
    path("converter/start/", views.conversion_create, name="conversion_create"),
    path(
        "converter/campaigns/<int:campaign_id>/cancel/",
        views.campaign_cancel,
        name="converter_campaign_cancel",
    ),
    path(
        "converter/lists/<int:list_id>/export.csv",
        views.list_export,
        name="converter_list_export",
    ),
    path("converter/<int:conversion_id>/", views.conversion_detail, name="conversion"),
    path(
        "converter/<int:conversion_id>/progress/",
        views.conversion_progress,
        name="conversion_progress",
    ),
    path(
        "converter/<int:conversion_id>/steps/<int:position>/",
        views.step_review,
        name="conversion_step",
    ),
    path(
        "converter/<int:conversion_id>/steps/<int:position>/dropped/",
        views.step_dropped,
        name="conversion_step_dropped",
    ),
    path(
        "converter/<int:conversion_id>/steps/<int:position>/resolve/",
        views.step_resolve,
        name="conversion_step_resolve",
    ),
    path(
        "converter/<int:conversion_id>/steps/<int:position>/invalid.csv",
        views.step_invalid_export,
        name="conversion_step_invalid",
    ),
    path(
        "converter/<int:conversion_id>/confirm/",
        views.conversion_confirm_page,
        name="conversion_confirm",
    ),
    path(
        "converter/<int:conversion_id>/confirm/final/",
        views.conversion_confirm,
        name="conversion_confirm_final",
    ),
    path(
        "converter/<int:conversion_id>/lists/",
        views.conversion_list_add,
        name="conversion_list_add",
    ),
    path(
        "converter/<int:conversion_id>/cancel/", views.conversion_cancel, name="conversion_cancel"
    ),
    path(
        "converter/<int:conversion_id>/resume/", views.conversion_resume, name="conversion_resume"
    ),
    path(
        "converter/<int:conversion_id>/report/", views.conversion_report, name="conversion_report"
    ),
    path(
        "converter/<int:conversion_id>/report.csv",
        views.conversion_report_csv,
        name="conversion_report_csv",
    ),
]
