"""People's text (names and addresses): one normal form, and no characters that hide or reorder what is
shown. Pure: used by the HTTP schemas, testable alone."""
from __future__ import annotations

import unicodedata

# Cc: controls (NUL, tab, newline, ESC...); Cf: format characters (bidi overrides and isolates, zero-width
# space/joiners, BOM, soft hyphen); Cs: lone surrogates (JSON can carry them, UTF-8 cannot);
# Cn: unassigned code points; Zl/Zp: line and paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})


def clean_line(value: str, *, max_length: int) -> str:
    """`value` in NFC without surrounding whitespace. Raises ValueError when it is empty or whitespace
    only, longer than `max_length` characters, or holds a refused character (named by code point)."""
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise ValueError("must not be empty or only whitespace")
    for ch in text:
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            raise ValueError(f"must not contain control or format characters (found U+{ord(ch):04X})")
    if len(text) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    return text
