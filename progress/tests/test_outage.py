"""Outage: a dependency's failures logged once when it goes down and once when it is back."""

from __future__ import annotations

import logging

from progress.publish.outage import Outage

logger = logging.getLogger("progress.tests.outage")


def outage():
    return Outage(logger, down="down (%s: %s)", recovered="back")


def test_many_failures_are_logged_once_and_the_recovery_once(caplog):
    caplog.set_level(logging.WARNING, logger=logger.name)
    service = outage()
    for _ in range(3):
        service.failed(ConnectionError("refused"))
    assert service.down
    for _ in range(3):
        service.succeeded()
    assert not service.down
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "down (ConnectionError: refused)"),
        ("WARNING", "back"),
    ]


def test_successes_while_up_log_nothing(caplog):
    service = outage()
    service.succeeded()
    assert caplog.records == []
