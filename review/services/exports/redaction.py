"""Redaction of personal data in exported text. Pure: no database.

Redaction (``redact=True``) replaces, in message contents, flag reasons, notes, corrected
responses and string values of metadata:
- URLs with a scheme or ``www.`` -> ``[URL]``; e-mail addresses -> ``[EMAIL]``;
- IPv4 and IPv6 addresses that ``ipaddress`` accepts -> ``[IP]``;
- 13-19 digit card numbers (spaces or dashes allowed) that pass the Luhn check -> ``[CARD]``;
- phone numbers that Google's libphonenumber (the ``phonenumbers`` package) finds valid (any
  number written with ``+`` and a country code; national numbers of ``PHONE_REGION``): [PHONE].
It misses: names, street addresses, national ids, IBANs, bare domains (``example.com/x``),
obfuscated addresses (``jo at example dot com``), numbers spelled out or split oddly, national
phone numbers of other regions, card numbers that fail Luhn, and anything inside ``external_id``.
Ordinary numbers, dates and times are left alone.
"""

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import phonenumbers

from review.services.exports.entries import Entry

PHONE_REGION = "US"

_URL = re.compile(r"\b(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)[^\s<>\"'`]+")


_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")


_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])"
)


_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")


_TRAILING = ".,;:!?)]}'\""


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _url(match: re.Match[str]) -> str:
    # A sentence's closing punctuation is not part of the address.
    text = match.group(0)
    stripped = text.rstrip(_TRAILING)
    return "[URL]" + text[len(stripped) :]


def _ip(kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> Callable[..., str]:
    def replace_ip(match: re.Match[str]) -> str:
        try:
            kind(match.group(0))
        except ValueError:
            return match.group(0)
        return "[IP]"

    return replace_ip


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def _phones(text: str) -> str:
    if not any(c.isdigit() for c in text):
        return text
    pieces, last = [], 0
    for found in phonenumbers.PhoneNumberMatcher(text, PHONE_REGION):
        pieces += [text[last : found.start], "[PHONE]"]
        last = found.end
    return "".join(pieces) + text[last:] if pieces else text


def redact_text(text: str) -> str:
    """Return text with URLs, e-mails, IPs, card numbers and phone numbers masked."""
    text = _URL.sub(_url, text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _IPV6.sub(_ip(ipaddress.IPv6Address), text)
    text = _IPV4.sub(_ip(ipaddress.IPv4Address), text)
    text = _CARD.sub(_card, text)
    return _phones(text)


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


def redact_entry(entry: Entry) -> None:
    """Mask personal data in every text field of entry, in place."""
    entry.messages = [
        {"role": m["role"], "content": redact_text(m["content"])} for m in entry.messages
    ]
    entry.metadata = redact_value(entry.metadata)
    for flag in entry.flags:
        flag["reason"] = redact_text(flag["reason"])
    for decision in entry.decisions:
        decision["note"] = redact_text(decision["note"])
        if decision["corrected_response"]:
            decision["corrected_response"] = redact_text(decision["corrected_response"])
    if entry.corrected_response:
        entry.corrected_response = redact_text(entry.corrected_response)
