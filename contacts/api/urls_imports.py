from django.urls import path

from contacts.api import imports as views

urlpatterns = [
    path(
        "lists/<int:list_id>/imports/", views.ListImportCreateView.as_view(), name="api-list-import"
    ),
    path("contacts/imports/", views.ContactImportCreateView.as_view(), name="api-contact-import"),
    path("imports/<int:job_id>/", views.ImportDetailView.as_view(), name="api-import-detail"),
    path(
        "imports/<int:job_id>/errors/", views.ImportErrorsView.as_view(), name="api-import-errors"
    ),
]
