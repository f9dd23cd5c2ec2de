"""A clock the test moves by hand, for the core's and the stores' ``clock=`` arguments."""

from __future__ import annotations


class FakeClock:
    """Called, it tells ``now`` (seconds); a test sets or moves ``now`` to let time pass."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
