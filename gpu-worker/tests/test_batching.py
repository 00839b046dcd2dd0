"""The batch collector's rules, exactly, with the time passed in."""

from __future__ import annotations

import pytest

from proteus_worker.batching import BatchCollector

WINDOW = 0.5


def collector(*arrivals: tuple[str, str, float]) -> BatchCollector[str, str]:
    c: BatchCollector[str, str] = BatchCollector(WINDOW)
    for key, item, at in arrivals:
        c.add(key, item, at)
    return c


def test_a_full_batch_is_released_at_once() -> None:
    c = collector(("a", "1", 0), ("a", "2", 0.1), ("a", "3", 0.2), ("a", "4", 0.3), ("a", "5", 0.3))
    assert c.take(4, now=0.3) == ("a", ["1", "2", "3", "4"])
    assert len(c) == 1


def test_a_partial_batch_waits_for_the_window_of_its_first_job() -> None:
    c = collector(("a", "1", 10.0), ("a", "2", 10.3))
    assert c.take(4, now=10.49) is None
    assert c.wait_s(10.2) == pytest.approx(0.3)
    assert c.take(4, now=10.5) == ("a", ["1", "2"])
    assert len(c) == 0 and c.wait_s(11) is None


def test_batches_hold_one_key_only() -> None:
    c = collector(("a", "a1", 0), ("b", "b1", 0.1), ("a", "a2", 0.2), ("b", "b2", 0.3))
    assert c.take(2, now=0.3) == ("a", ["a1", "a2"])
    assert c.take(2, now=0.3) == ("b", ["b1", "b2"])


def test_a_full_group_goes_before_an_older_partial_one() -> None:
    c = collector(("a", "a1", 0), ("b", "b1", 0.1), ("b", "b2", 0.2))
    assert c.take(2, now=0.2) == ("b", ["b1", "b2"])
    assert c.take(2, now=0.2) is None
    assert c.take(2, now=0.5) == ("a", ["a1"])


def test_the_oldest_due_group_goes_first() -> None:
    c = collector(("b", "b1", 0.2), ("a", "a1", 0.1))
    assert c.take(4, now=1.0) == ("a", ["a1"])
    assert c.take(4, now=1.0) == ("b", ["b1"])


def test_the_batch_size_is_read_at_each_take() -> None:
    c = collector(*(("a", str(i), 0.0) for i in range(6)))
    assert c.take(2, now=0) == ("a", ["0", "1"])
    assert c.take(4, now=0) == ("a", ["2", "3", "4", "5"])


def test_leftovers_keep_their_own_arrival_time() -> None:
    c = collector(("a", "1", 0), ("a", "2", 0.4), ("a", "3", 0.45))
    assert c.take(2, now=0.45) == ("a", ["1", "2"])
    assert c.take(2, now=0.6) is None  # "3" arrived at 0.45: due at 0.95
    assert c.take(2, now=0.95) == ("a", ["3"])


def test_remove_takes_out_matching_jobs() -> None:
    c = collector(("a", "1", 0), ("b", "2", 0), ("a", "3", 0))
    assert sorted(c.remove(lambda item: item in ("1", "2"))) == ["1", "2"]
    assert c.items() == ["3"]


def test_rejects_a_window_of_zero() -> None:
    with pytest.raises(ValueError, match="window_s 0"):
        BatchCollector[str, str](0)


def test_rejects_a_batch_size_of_zero() -> None:
    with pytest.raises(ValueError, match="batch_size 0"):
        collector(("a", "1", 0)).take(0, now=0)
