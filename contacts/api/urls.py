from rest_framework.routers import SimpleRouter

from contacts.api import views

router = SimpleRouter()
router.register("lists", views.ContactListViewSet, basename="api-lists")
urlpatterns = router.urls
