"""Customer accounts under concurrent requests, over HTTP."""
from __future__ import annotations

from tests.e2e.fixtures import assert_problem, shop_fixture  # noqa: F401 (fixture)
from tests.e2e.test_accounts import new_email, sign_in, sign_up
from tests.e2e.test_concurrency import _all_at_once

MAX_FAILURES = 5  # SHELF_SIGN_IN_MAX_FAILURES on the local stack (its default)


def test_wrong_passwords_sent_at_once_are_held_to_the_limit(shop):
    email = new_email()
    sign_up(shop, email)
    answers = _all_at_once([lambda i=i: sign_in(shop, email, f"Wr0ng-password-{i}", expect=None)
                            for i in range(3 * MAX_FAILURES)])
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * MAX_FAILURES + [429] * (2 * MAX_FAILURES), statuses
    assert_problem(sign_in(shop, email, expect=None), 429, "throttled")
