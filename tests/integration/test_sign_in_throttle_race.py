"""Sign-in throttling under overlapping guesses: the per-email limit bounds how many passwords reach the
identity provider in a window, however many requests are in flight at once. The overlap is made
deterministic: while the first guess is with the provider, the other guesses arrive (one after another,
from inside that call), as they would from other requests."""
from __future__ import annotations

import secrets
from dataclasses import replace

import pytest

from chalicelib import wiring
from chalicelib.domain.customers import BadCredentials, Throttled
from chalicelib.services import accounts

PASSWORD = "Corr3ct-horse-battery"
LIMIT = 3
GUESSES = 8


class _Overlapping:
    """An identity provider that, on the first sign-in it is asked for, lets `more` other sign-ins run to
    their end before it answers that first one."""

    def __init__(self, real, more):
        self.real = real
        self.more = more
        self.reached = 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def sign_in(self, email: str, password: str):
        self.reached += 1
        if self.reached == 1:
            self.more()
        return self.real.sign_in(email, password)


def test_overlapping_wrong_passwords_reach_the_provider_at_most_the_limit(ctx):
    acc = wiring.accounts()
    email = f"it-{secrets.token_hex(5)}@example.com"
    accounts.sign_up(email, PASSWORD, acc, ctx, auto_confirm=True)
    outcomes: list[str] = []

    def guess() -> None:
        try:
            accounts.sign_in(email, f"Wr0ng-{secrets.token_hex(4)}", gated, ctx, max_failures=LIMIT,
                             window_seconds=600)
            outcomes.append("signed in")
        except BadCredentials:
            outcomes.append("wrong")
        except Throttled:
            outcomes.append("throttled")

    provider = _Overlapping(acc.identity, lambda: [guess() for _ in range(GUESSES - 1)])
    gated = replace(acc, identity=provider)
    guess()

    assert provider.reached == LIMIT
    assert sorted(outcomes) == ["throttled"] * (GUESSES - LIMIT) + ["wrong"] * LIMIT
    with pytest.raises(Throttled):  # the right password too, until the window ends
        accounts.sign_in(email, PASSWORD, acc, ctx, max_failures=LIMIT, window_seconds=600)


def test_a_right_password_does_not_use_up_an_attempt(ctx):
    acc = wiring.accounts()
    email = f"it-{secrets.token_hex(5)}@example.com"
    accounts.sign_up(email, PASSWORD, acc, ctx, auto_confirm=True)
    for _ in range(LIMIT + 2):
        assert accounts.sign_in(email, PASSWORD, acc, ctx, max_failures=LIMIT, window_seconds=600).id_token
    for _ in range(LIMIT):
        with pytest.raises(BadCredentials):
            accounts.sign_in(email, "Wr0ng-password", acc, ctx, max_failures=LIMIT, window_seconds=600)
    with pytest.raises(Throttled):
        accounts.sign_in(email, PASSWORD, acc, ctx, max_failures=LIMIT, window_seconds=600)
