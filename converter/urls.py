from django.urls import path

from converter import views

urlpatterns = [path("converter/", views.converter_index, name="converter")]
