"""The shared thread that runs delayed calls, such as removing superseded file versions."""

from __future__ import annotations

import threading

from gateway.storage.delayed_calls import DelayedCalls

WAIT = 30.0


def test_delayed_calls_run_in_due_order() -> None:
    calls = DelayedCalls("test-delayed")
    ran: list[tuple[str, str]] = []
    done = threading.Event()

    def record(label: str) -> None:
        ran.append((label, threading.current_thread().name))
        if len(ran) == 3:
            done.set()

    before = threading.active_count()
    calls.add(0.9, lambda: record("last"))
    calls.add(0.1, lambda: record("first"))
    calls.add(0.5, lambda: record("middle"))
    assert threading.active_count() == before + 1
    assert done.wait(WAIT)
    assert ran == [("first", "test-delayed"), ("middle", "test-delayed"), ("last", "test-delayed")]
    assert calls.pending() == 0


def test_delayed_call_failure_spares_later_ones() -> None:
    calls = DelayedCalls("test-delayed-failure")
    done = threading.Event()

    def fail() -> None:
        raise OSError("store unreachable")

    calls.add(0.0, fail)
    calls.add(0.1, done.set)
    assert done.wait(WAIT)
    assert calls.pending() == 0


def test_delayed_call_waits_for_delay() -> None:
    calls = DelayedCalls("test-delayed-wait")
    done = threading.Event()
    calls.add(3600.0, done.set)
    assert not done.wait(0.5)
    assert calls.pending() == 1
