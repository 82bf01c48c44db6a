"""An id has one pattern, wherever the API reads it: in a path or in a body."""
from __future__ import annotations

import pydantic
import pytest

from chalicelib.api.accounts import MergeIn
from chalicelib.api.common import CART_ID
from chalicelib.domain.ids import new_id


def test_a_merged_cart_id_is_read_with_the_path_pattern():
    assert MergeIn.model_json_schema()["properties"]["cart_id"]["pattern"] == CART_ID["cart_id"]


def test_a_merged_cart_id_must_be_a_cart_id():
    good = new_id("cart")
    assert MergeIn.model_validate({"cart_id": good}).cart_id == good
    for bad in ("nope", new_id("ord"), good.upper(), good + "a", good[:-1], " " + good):
        with pytest.raises(pydantic.ValidationError):
            MergeIn.model_validate({"cart_id": bad})
