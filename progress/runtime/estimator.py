"""Rate and ETA estimation smoothed over time, so the ETA neither jumps nor lags badly."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class _Series:
    """One smoothed per-second rate: a plain average while warming up, then a time-weighted EMA."""

    tau: float
    origin_time: float | None = None
    origin_value: float = 0.0
    last_time: float | None = None
    last_value: float = 0.0
    rate: float | None = None

    def reset(self, value: float, now: float) -> None:
        self.origin_time = self.last_time = now
        self.origin_value = self.last_value = value
        self.rate = None

    def observe(self, now: float, value: float) -> None:
        if self.last_time is None or self.origin_time is None:
            self.reset(value, now)
            return
        dt = now - self.last_time
        if dt <= 0:
            return
        elapsed = now - self.origin_time
        if elapsed <= self.tau or self.rate is None:
            # Warm-up: the average since the start. An EMA seeded with the first (often
            # zero) sample would take tau seconds to climb to the true rate.
            self.rate = max((value - self.origin_value) / elapsed, 0.0)
        else:
            # alpha grows with the gap since the last sample, so fast runs with many
            # samples and slow runs with one a minute both average the last ~tau seconds.
            alpha = 1.0 - math.exp(-dt / self.tau)
            instant = max((value - self.last_value) / dt, 0.0)
            self.rate += alpha * (instant - self.rate)
        self.last_time, self.last_value = now, value


class RateEstimator:
    """Items per second and overall fraction per second, both smoothed over about tau seconds.

    tqdm's per-sample EMA (smoothing=0.3) swings with every burst; this one weighs samples
    by time, so the ETA drifts instead of jumping.
    """

    def __init__(self, tau: float = 10.0) -> None:
        self._items = _Series(tau)
        self._fraction = _Series(tau)

    @property
    def rate(self) -> float | None:
        return self._items.rate

    @property
    def fraction_rate(self) -> float | None:
        return self._fraction.rate

    @property
    def warmed_up(self) -> bool:
        """True once the overall rate covers more than tau seconds (no longer a warm-up guess)."""
        series = self._fraction
        if series.rate is None or series.origin_time is None or series.last_time is None:
            return False
        return series.last_time - series.origin_time > series.tau

    def reset_items(self, items: float, now: float) -> None:
        """Start counting items afresh (a new stage) without losing the fraction rate."""
        self._items.reset(items, now)

    def observe(self, now: float, items: float, fraction: float | None) -> None:
        """Feed the current item count and overall fraction (None if unknown) at time now."""
        self._items.observe(now, items)
        if fraction is not None:
            self._fraction.observe(now, fraction)

    def seconds_remaining(self, fraction: float | None) -> float | None:
        """Estimated seconds until fraction reaches 1, or None when it cannot be known."""
        rate = self._fraction.rate
        if fraction is None or not rate or rate <= 0:
            return None
        return max(0.0, (1.0 - fraction) / rate)
