"""``RestartPolicy.delay``: exponential backoff between restarts, capped."""

from __future__ import annotations

import pytest

from lcdev.core.backoff import RestartPolicy


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (6, 8.0), (7, 10.0), (50, 10.0)],
)
def test_default_delays_double_up_to_the_cap(attempt: int, expected: float) -> None:
    assert RestartPolicy().delay(attempt) == pytest.approx(expected)


def test_attempts_below_one_wait_the_initial_delay() -> None:
    assert RestartPolicy(initial=0.1).delay(0) == pytest.approx(0.1)
    assert RestartPolicy(initial=0.1).delay(-3) == pytest.approx(0.1)


def test_custom_factor_and_maximum() -> None:
    policy = RestartPolicy(initial=1.0, factor=3.0, maximum=5.0)
    assert [policy.delay(n) for n in (1, 2, 3)] == [1.0, 3.0, 5.0]


def test_delay_is_a_float_even_for_whole_numbers() -> None:
    assert isinstance(RestartPolicy(initial=1, factor=2, maximum=100).delay(3), float)
