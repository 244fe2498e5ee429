"""Outage: a dependency's up/down state, logged once when it goes down and once when it is back."""

from __future__ import annotations

import logging


class Outage:
    """Logs the first failure as an error and the first success after it as a warning."""

    def __init__(self, logger: logging.Logger, *, down: str, recovered: str) -> None:
        self.logger = logger
        self.down_message = down
        self.recovered_message = recovered
        self.down = False

    def failed(self, exc: BaseException) -> None:
        """A call failed; logged only if the dependency was up until now."""
        if not self.down:
            self.down = True
            self.logger.error(self.down_message, type(exc).__name__, exc)

    def succeeded(self) -> None:
        """A call worked; logged only if the dependency was down until now."""
        if self.down:
            self.down = False
            self.logger.warning(self.recovered_message)
