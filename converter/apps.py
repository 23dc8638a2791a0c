from django.apps import AppConfig


class ConverterConfig(AppConfig):
    name = "converter"
    default_auto_field = "django.db.models.BigAutoField"
