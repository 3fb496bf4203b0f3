"""When a step that raised should run again, and after how long."""

from __future__ import annotations

import random
from typing import Protocol, runtime_checkable


@runtime_checkable
class RetryPolicy(Protocol):
    """Decides whether a failed step is tried again.

    ``next`` returns the delay in seconds before the next attempt, or ``None`` to give up
    and fail the run with the step's exception.
    """

    def next(self, elapsed_time: float, attempts: int, error: Exception) -> float | None: ...


class ConstantDelayRetryPolicy:
    """Retry after the same delay, up to ``maximum_attempts`` attempts in all.

    >>> ConstantDelayRetryPolicy(delay=0.5, maximum_attempts=3).next(0.0, 1, ValueError())
    0.5
    """

    def __init__(self, delay: float = 5.0, maximum_attempts: int = 3) -> None:
        self.delay = delay
        self.maximum_attempts = maximum_attempts

    def next(self, elapsed_time: float, attempts: int, error: Exception) -> float | None:
        if attempts >= self.maximum_attempts:
            return None
        return self.delay


class ExponentialBackoffRetryPolicy:
    """Retry after ``initial_delay * multiplier ** (attempts - 1)``, capped at ``max_delay``.

    ``jitter`` spreads retries of many runs so they do not hit a failing service together.
    """

    def __init__(
        self,
        initial_delay: float = 1.0,
        multiplier: float = 2.0,
        max_delay: float = 30.0,
        maximum_attempts: int = 5,
        jitter: bool = False,
    ) -> None:
        self.initial_delay = initial_delay
        self.multiplier = multiplier
        self.max_delay = max_delay
        self.maximum_attempts = maximum_attempts
        self.jitter = jitter

    def next(self, elapsed_time: float, attempts: int, error: Exception) -> float | None:
        if attempts >= self.maximum_attempts:
            return None
        delay = min(self.max_delay, self.initial_delay * self.multiplier ** (attempts - 1))
        if self.jitter:
            delay = random.uniform(0, delay)
        return delay


__all__ = ["ConstantDelayRetryPolicy", "ExponentialBackoffRetryPolicy", "RetryPolicy"]
