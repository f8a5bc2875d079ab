"""Text the stores can hold: no NUL or other control characters (PostgreSQL refuses NUL in
text and JSON), and no lone surrogates (they are not UTF-8). Checked where text comes in."""

from __future__ import annotations

import re

from domain.errors import HeraldError

# C0 controls but tab, line feed and carriage return; DEL; C1 controls; lone surrogates
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class ControlCharacter(HeraldError):
    code = "invalid_characters"


def check_text(value: str, *, field: str) -> str:
    """`value`, if every character can be stored; else `ControlCharacter` naming the field."""
    if found := FORBIDDEN.search(value):
        char = found.group()
        kind = "a lone surrogate (not UTF-8)" if "\ud800" <= char <= "\udfff" else "a control character"
        raise ControlCharacter(
            f"{field} contains {kind} (U+{ord(char):04X}) at position {found.start()}, which cannot be stored",
            field=field,
        )
    return value
