"""Reading text we did not write (cards, YAML, results): checked, safe, one-line errors.

YAML is only ever safe-loaded, so a ``!!python/object`` tag in a card is never constructed;
deep nesting (RecursionError) and bad encodings become one-line :class:`H3DSError` messages.
"""

from __future__ import annotations

from typing import Any

import yaml

from h3ds_hf.errors import H3DSError


def first_line(error: BaseException, limit: int = 200) -> str:
    """An error's text folded onto one line, at most ``limit`` characters."""
    return " ".join(str(error).split())[:limit] or type(error).__name__


def utf8_text(data: bytes, origin: str) -> str:
    """``data`` decoded as UTF-8; H3DSError naming ``origin`` and the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise H3DSError(f"{origin} is not UTF-8 text (byte {error.start})") from None


def safe_yaml(text: str, origin: str) -> Any:
    """Safe-loaded YAML (no Python object is ever constructed); one-line errors."""
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as error:
        raise H3DSError(f"{origin} is not valid YAML: {first_line(error)}") from None
