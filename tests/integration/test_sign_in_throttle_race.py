"""Sign-in throttling under concurrent guesses: the per-email limit bounds how many passwords reach the
identity provider in a window, however many requests arrive at once."""
from __future__ import annotations

import secrets
import threading
from dataclasses import replace

from chalicelib import wiring
from chalicelib.domain.customers import BadCredentials, Throttled
from chalicelib.services import accounts

PASSWORD = "Corr3ct-horse-battery"
LIMIT = 3
GUESSERS = 8


class _Gate:
    """An identity provider that holds every sign-in until all guessers have arrived (or a wait of a few
    seconds has passed, when fewer than all of them get this far), then asks the real one."""

    def __init__(self, real, parties: int):
        self.real = real
        self.barrier = threading.Barrier(parties)
        self.reached = 0
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.real, name)

    def sign_in(self, email: str, password: str):
        with self.lock:
            self.reached += 1
        try:
            self.barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return self.real.sign_in(email, password)


def test_concurrent_wrong_passwords_reach_the_provider_at_most_the_limit(ctx):
    acc = wiring.accounts()
    email = f"it-{secrets.token_hex(5)}@example.com"
    accounts.sign_up(email, PASSWORD, acc, ctx, auto_confirm=True)
    gate = _Gate(acc.identity, GUESSERS)
    gated = replace(acc, identity=gate)
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

    threads = [threading.Thread(target=guess) for _ in range(GUESSERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["throttled"] * (GUESSERS - LIMIT) + ["wrong"] * LIMIT
    assert gate.reached == LIMIT
    # and the right password is refused too until the window ends
    try:
        accounts.sign_in(email, PASSWORD, acc, ctx, max_failures=LIMIT, window_seconds=600)
        raise AssertionError("signed in past the limit")
    except Throttled:
        pass
