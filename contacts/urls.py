from django.urls import include, path

from contacts import views

urlpatterns = [
    path("contacts/", views.contact_list, name="contacts"),
    path("contacts/new/", views.contact_new, name="contact_new"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path("lists/", views.list_index, name="lists"),
    path("lists/<int:list_id>/", views.list_detail, name="list_detail"),
    path("segments/", views.segment_index, name="segments"),
    path("segments/new/", views.segment_edit, name="segment_new"),
    path("segments/count/", views.segment_count, name="segment_count"),
    path("segments/<int:segment_id>/", views.segment_edit, name="segment_edit"),
    path("segments/<int:segment_id>/delete/", views.segment_delete, name="segment_delete"),
    path("suppressions/", views.suppression_index, name="suppressions"),
    path(
        "suppressions/<int:suppression_id>/remove/",
        views.suppression_remove,
        name="suppression_remove",
    ),
    path("duplicates/", views.duplicate_index, name="duplicates"),
    path("duplicates/scan/", views.duplicate_scan, name="duplicate_scan"),
    path(
        "duplicates/scans/<int:scan_id>/",
        views.duplicate_scan_progress,
        name="duplicate_scan_progress",
    ),
    path("duplicates/<int:suggestion_id>/", views.duplicate_detail, name="duplicate_detail"),
    path(
        "duplicates/<int:suggestion_id>/dismiss/",
        views.duplicate_dismiss,
        name="duplicate_dismiss",
    ),
    path("", include("contacts.urls_imports")),
]
