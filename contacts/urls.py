from django.urls import include, path

from contacts import views

urlpatterns = [
    path("contacts/", views.contact_list, name="contacts"),
    path("lists/", views.list_index, name="lists"),
    path("", include("contacts.urls_imports")),
]
