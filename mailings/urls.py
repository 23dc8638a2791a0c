from django.urls import path

from mailings import views

urlpatterns = [path("mailings/", views.mailing_index, name="mailings")]
