from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery's autodiscovery finds contacts.tasks only; the duplicate scan's task lives apart.
        from contacts import tasks_duplicates  # noqa: F401
