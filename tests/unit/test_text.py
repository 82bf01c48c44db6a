from __future__ import annotations

import pytest

from chalicelib.domain.text import clean_line


def test_text_is_nfc_and_stripped():
    assert clean_line("  Cafe\u0301 \u00a0", max_length=10) == "Caf\u00e9"


@pytest.mark.parametrize("value", ["", "  ", "\u3000", "a\x00b", "a\u202eb", "a\u200bb", "a\ufeff", "\ud800",
                                   "a\u2028b", "a\u0378b"])
def test_refused(value):
    with pytest.raises(ValueError):
        clean_line(value, max_length=10)


def test_length_is_counted_after_normalizing():
    assert clean_line("e\u0301" * 3, max_length=3) == "\u00e9" * 3
    with pytest.raises(ValueError):
        clean_line("abcd", max_length=3)
