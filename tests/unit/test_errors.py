"""Domain errors: each carries a problem `type` slug, a title, a detail and field errors."""
from __future__ import annotations

import pytest

from chalicelib.domain import errors
from chalicelib.domain.errors import Conflict, DomainError, FieldError, Invalid, OutOfStock

ALL_ERRORS = [obj for obj in vars(errors).values()
              if isinstance(obj, type) and issubclass(obj, DomainError)]


def test_every_error_has_its_own_slug():
    slugs = [cls.slug for cls in ALL_ERRORS]
    assert len(slugs) == len(set(slugs))


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_can_be_raised_without_arguments(cls):
    exc = cls()
    assert exc.detail == cls.title
    assert str(exc) == cls.title
    assert exc.errors == []


def test_detail_and_field_errors_are_kept():
    field_errors = [FieldError("quantity", "must be 1..99")]
    exc = Invalid("bad quantity", field_errors)
    assert exc.detail == "bad quantity" == str(exc)
    assert exc.errors == field_errors
    field_errors.append(FieldError("sku", "x"))
    assert len(exc.errors) == 1, "the error keeps its own copy of the list"


@pytest.mark.parametrize("cls", ["OutOfStock", "SkuTaken", "BelowReserved", "InvalidTransition", "CartNotOpen",
                                 "CartEmpty", "IdempotencyKeyReused", "IdempotencyInProgress"])
def test_the_409_errors_are_conflicts(cls):
    assert issubclass(getattr(errors, cls), Conflict)


def test_out_of_stock_is_caught_as_a_conflict():
    with pytest.raises(Conflict):
        raise OutOfStock("only 2 available")
