from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings

from consent.apps import compile_translations


@pytest.mark.parametrize("language", ["nl", "fr", "de"])
def test_every_message_is_translated(language: str) -> None:
    path = Path(settings.LOCALE_PATHS[0]) / language / "LC_MESSAGES" / "django.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    assert [m.id for m in catalog if m.id and (not m.string or m.fuzzy)] == []


def test_start_up_compiles_a_changed_catalogue(tmp_path: Path, settings: object) -> None:
    po = tmp_path / "nl" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "Yes"\nmsgstr "Ja"\n'
    )
    settings.LOCALE_PATHS = [tmp_path]  # type: ignore[attr-defined]
    assert compile_translations() == 1
    assert po.with_suffix(".mo").exists()
    assert compile_translations() == 0
