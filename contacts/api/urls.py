from django.urls import path
from rest_framework.routers import SimpleRouter

from contacts.api import views

router = SimpleRouter(use_regex_path=False)
router.register("lists", views.ContactListViewSet, basename="api-lists")
router.register("contacts", views.ContactViewSet, basename="api-contacts")
router.register("suppressions", views.SuppressionViewSet, basename="api-suppressions")
router.register("segments", views.SegmentViewSet, basename="api-segments")
router.register("duplicates/scans", views.DuplicateScanViewSet, basename="api-duplicate-scans")
router.register("duplicates", views.DuplicateViewSet, basename="api-duplicates")
urlpatterns = [
    path("activities/", views.ActivityIngestView.as_view(), name="api-activities"),
    *router.urls,
]
