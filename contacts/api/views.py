from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import mixins, viewsets
from rest_framework.serializers import BaseSerializer

from contacts import selectors, services
from contacts.api.serializers import ContactListSerializer
from contacts.models import ContactList


class ContactListViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ContactList],
):
    serializer_class = ContactListSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[ContactList]:
        return selectors.lists_with_counts()

    def perform_create(self, serializer: BaseSerializer[ContactList]) -> None:
        serializer.instance = services.list_create(**serializer.validated_data)

    def perform_destroy(self, instance: ContactList) -> None:
        services.list_delete(contact_list=instance)
