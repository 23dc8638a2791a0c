from django.urls import path

from accounts.api import views

urlpatterns = [path("account/", views.AccountView.as_view(), name="api-account")]
