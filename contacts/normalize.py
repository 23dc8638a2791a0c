"""E-mail normalisation (the merge key) and field comparison (for conflicts), written once.

DESIGN §2: strip, lower-case the whole address, IDNA-encode the domain, check the syntax (no DNS).
An invalid address raises `InvalidEmail`; it is never silently dropped or "fixed".
Fields compare after strip, collapsing inner whitespace and Unicode NFC; case matters; "" is empty.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_WHITESPACE = re.compile(r"\s+")


class InvalidEmail(ValueError):
    pass


# Imports normalise millions of addresses over a few thousand domains; Python's IDNA codec is
# the slow part, so each domain is checked once.
@functools.lru_cache(maxsize=16384)
def _ascii_domain(domain: str) -> str | None:
    """The IDNA (ASCII) form of a lower-cased domain, or None when it is not a valid domain."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        return None
    return ascii_domain


def normalize_email(raw: str) -> str:
    address = (raw or "").strip().lower()
    if not address:
        raise InvalidEmail("The e-mail address is empty.")
    if address.count("@") != 1:
        raise InvalidEmail(f"{raw.strip()!r} is not an e-mail address (it needs exactly one @).")
    local, domain = address.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        raise InvalidEmail(f"{raw.strip()!r} has an invalid part before the @.")
    ascii_domain = _ascii_domain(domain)
    if ascii_domain is None:
        raise InvalidEmail(f"{raw.strip()!r} has an invalid domain.")
    normalized = f"{local}@{ascii_domain}"
    if len(normalized) > 254:
        raise InvalidEmail("The e-mail address is longer than 254 characters.")
    return normalized


def normalize_email_or_none(raw: str) -> str | None:
    try:
        return normalize_email(raw)
    except InvalidEmail:
        return None


def email_hash(normalized: str) -> str:
    """The suppression key that survives an erasure."""
    return hashlib.sha256(normalized.encode()).hexdigest()


def clean_value(value: object) -> str:
    """The comparable form of a field value."""
    if value is None:
        return ""
    return unicodedata.normalize("NFC", _WHITESPACE.sub(" ", str(value).strip()))


def same_value(a: object, b: object) -> bool:
    return clean_value(a) == clean_value(b)


# The SQL form of `email_hash` over a column or expression (PostgreSQL's built-in sha256), for
# set-based matches against suppressions: EMAIL_HASH_SQL.format("c.email").
EMAIL_HASH_SQL = "encode(sha256(convert_to({}, 'UTF8')), 'hex')"


# Python's `\s` on str: the Unicode whitespace that `clean_value` strips and collapses.
_SQL_WHITESPACE = r"[\s\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u001c-\u001f]+"


def clean_value_sql(expression: str) -> str:
    """The SQL twin of `clean_value` for a text expression, for set-based comparisons in
    PostgreSQL (tests check both agree): collapse whitespace, strip, Unicode NFC."""
    return (
        f"normalize(btrim(regexp_replace({expression}, '{_SQL_WHITESPACE}', ' ', 'g'), ' '), NFC)"
    )
