from django.urls import path, register_converter

from contacts import views_imports as views


class ExportFormat:
    regex = "csv|xlsx"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ExportFormat, "fmt")

urlpatterns = [
    path("imports/", views.import_index, name="imports"),
    path("imports/new/", views.import_upload, name="import_upload"),
    path("imports/<int:job_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:job_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<int:job_id>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:job_id>/cancel/", views.import_cancel, name="import_cancel"),
    path("imports/<int:job_id>/resume/", views.import_resume, name="import_resume"),
    path("imports/<int:job_id>/rejects.csv", views.import_rejects, name="import_rejects"),
    path("lists/<int:list_id>/export.<fmt:fmt>", views.list_export, name="list_export"),
    path("contacts/export.<fmt:fmt>", views.contacts_export, name="contacts_export"),
    path("segments/<int:segment_id>/export.<fmt:fmt>", views.segment_export, name="segment_export"),
]
