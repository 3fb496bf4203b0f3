"""Scheduling a run: deliveries to steps, worker tasks, retries, timeouts, cancellation."""

from .engine import RunEngine

__all__ = ["RunEngine"]
