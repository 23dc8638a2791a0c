from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


def compile_translations() -> int:
    """Compiles each locale/*/LC_MESSAGES/*.po whose .mo is missing or older, with Babel.

    Compiled catalogues are not committed (.gitignore), and a fresh machine may lack gettext's
    msgfmt, so every start-up (web, worker, tests, manage.py) checks — a few stat() calls when
    nothing changed. Written through a temporary file and an atomic rename, so processes starting
    together never read half a file. Returns how many catalogues it wrote.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = 0
    for base in settings.LOCALE_PATHS:
        for po_path in Path(base).glob("*/LC_MESSAGES/*.po"):
            mo_path = po_path.with_suffix(".mo")
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            try:
                with po_path.open("rb") as po_file:
                    catalog = read_po(po_file, locale=po_path.parent.parent.name)
                fd, tmp = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
                with os.fdopen(fd, "wb") as mo_file:
                    write_mo(mo_file, catalog)
                os.replace(tmp, mo_path)
                written += 1
            except OSError as error:  # e.g. a read-only image: pages fall back to English
                logger.warning("Cannot compile %s: %s", po_path, error)
    return written


class ConsentConfig(AppConfig):
    name = "consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        compile_translations()
