from rest_framework.routers import SimpleRouter

from contacts.api import views

router = SimpleRouter(use_regex_path=False)
router.register("lists", views.ContactListViewSet, basename="api-lists")
urlpatterns = router.urls
