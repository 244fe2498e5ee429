"""Rate and ETA estimation smoothed over time, so the ETA neither jumps nor lags badly."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class RateEstimator:
    """Time-weighted exponential moving averages of items/s and of overall fraction/s.

    The weight of a new observation grows with the time since the previous one
    (alpha = 1 - exp(-dt / tau)), so fast runs with many samples and slow runs with a
    sample a minute behave alike: roughly the average over the last `tau` seconds.
    tqdm's per-sample EMA (smoothing=0.3) instead swings with every burst.
    """

    tau: float = 10.0
    _last_time: float | None = None
    _last_items: float = 0.0
    _last_fraction: float = 0.0
    rate: float | None = None
    fraction_rate: float | None = None

    def reset_items(self, items: float, now: float) -> None:
        """Start counting items afresh (a new stage) without losing the fraction rate."""
        self._last_items = items
        self.rate = None
        if self._last_time is None:
            self._last_time = now

    def observe(self, now: float, items: float, fraction: float | None) -> None:
        """Feed the current item count and overall fraction (None if unknown) at time now."""
        if self._last_time is None:
            self._last_time = now
            self._last_items = items
            self._last_fraction = fraction or 0.0
            return
        dt = now - self._last_time
        if dt <= 0:
            return
        alpha = 1.0 - math.exp(-dt / self.tau)
        self.rate = self._blend(self.rate, (items - self._last_items) / dt, alpha)
        if fraction is not None:
            instant = (fraction - self._last_fraction) / dt
            self.fraction_rate = self._blend(self.fraction_rate, instant, alpha)
            self._last_fraction = fraction
        self._last_time, self._last_items = now, items

    def seconds_remaining(self, fraction: float | None) -> float | None:
        """Estimated seconds until fraction reaches 1, or None when it cannot be known."""
        if fraction is None or not self.fraction_rate or self.fraction_rate <= 0:
            return None
        return max(0.0, (1.0 - fraction) / self.fraction_rate)

    @staticmethod
    def _blend(previous: float | None, instant: float, alpha: float) -> float:
        instant = max(instant, 0.0)
        if previous is None:
            return instant
        return previous + alpha * (instant - previous)
