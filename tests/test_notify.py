"""Per-room wake-ups for long-polls."""

from __future__ import annotations

import threading
import time

from webrtc_signal.notify import Notifier


def test_a_notify_wakes_the_rooms_listener():
    notifier = Notifier()
    with notifier.listen("r") as listener:
        threading.Timer(0.05, notifier.notify, args=("r",)).start()
        start = time.monotonic()
        assert listener.wait(10) is True
        assert time.monotonic() - start < 5
        assert listener.wait(0.01) is False  # already seen


def test_a_notify_before_the_wait_is_not_lost():
    notifier = Notifier()
    with notifier.listen("r") as listener:
        notifier.notify("r")  # lands between the reader's read and its wait
        assert listener.wait(0) is True


def test_other_rooms_do_not_wake_a_listener():
    notifier = Notifier()
    with notifier.listen("r") as listener:
        notifier.notify("other")
        assert listener.wait(0.05) is False


def test_rooms_are_forgotten_when_nobody_listens():
    notifier = Notifier()
    notifier.notify("nobody")  # nothing to wake, nothing kept
    with notifier.listen("r"), notifier.listen("r"):
        assert notifier.waiting() == 2
    assert notifier.waiting() == 0
    assert notifier._rooms == {}
