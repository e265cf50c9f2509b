"""Small text clean-ups shared by adapters and encoders."""

from __future__ import annotations

import re

_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")


def unescape_byte_sequences(text: str) -> str:
    r"""Decode literal ``\xHH`` runs (UTF-8 bytes written as text, as in Shopee titles).

    Runs that are not valid UTF-8 are decoded with replacement characters, never dropped.

    Example:
        >>> unescape_byte_sequences(r"CR\xc3\x88ME caf\xc3\xa9")
        'CRÈME café'
    """
    if "\\x" not in text:
        return text
    return _BYTE_ESCAPES.sub(
        lambda m: bytes.fromhex(m.group(0).replace("\\x", "")).decode("utf-8", errors="replace"), text)
