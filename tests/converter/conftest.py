from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from converter import services
from converter.models import Conversion, ConversionStep

Capture = Callable[..., AbstractContextManager[Any]]


class Driver:
    """Calls converter services the way the pages do, running the tasks they enqueue on commit
    (eagerly, like a worker that is always there)."""

    def __init__(self, capture: Capture, admin: Any) -> None:
        self.capture = capture
        self.admin = admin

    def start(self, lists: list[Any], **kwargs: Any) -> Conversion:
        kwargs.setdefault("started_by", self.admin)
        kwargs.setdefault("label", self.admin.email)
        with self.capture(execute=True):
            conversion = services.conversion_start(lists=lists, **kwargs)
        conversion.refresh_from_db()
        return conversion

    def step(self, conversion: Conversion, position: int) -> ConversionStep:
        return ConversionStep.objects.get(conversion=conversion, position=position)

    def resolve(
        self, conversion: Conversion, position: int, choice: str, **overrides: str
    ) -> ConversionStep:
        with self.capture(execute=True):
            step = services.step_resolve(
                step=self.step(conversion, position), choice=choice, field_overrides=overrides
            )
        step.refresh_from_db()
        return step

    def confirm(self, conversion: Conversion) -> Conversion:
        with self.capture(execute=True):
            services.conversion_confirm(conversion=conversion)
        conversion.refresh_from_db()
        return conversion

    def cancel(self, conversion: Conversion) -> Conversion:
        with self.capture(execute=True):
            services.conversion_cancel(conversion=conversion)
        conversion.refresh_from_db()
        return conversion

    def resume(self, conversion: Conversion) -> Conversion:
        with self.capture(execute=True):
            services.conversion_resume(conversion=conversion)
        conversion.refresh_from_db()
        return conversion

    def add_list(self, conversion: Conversion, contact_list: Any) -> ConversionStep:
        with self.capture(execute=True):
            step = services.conversion_list_add(conversion=conversion, contact_list=contact_list)
        return step


@pytest.fixture
def driver(django_capture_on_commit_callbacks: Capture, tenant: Any) -> Iterator[Driver]:
    yield Driver(django_capture_on_commit_callbacks, tenant.admin)
