from django.urls import path

from consent import views

urlpatterns = [path("consent/", views.consent_index, name="consent")]
