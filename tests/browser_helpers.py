"""Fixtures and helpers for Playwright tests: a live stack, one Chromium, signed-in pages.

The same as tests/test_browser.py's, importable by other browser test modules. Import the
fixtures by name into a test module (``from tests.browser_helpers import browser, stack``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.live import CHROMIUM_ARGS, LiveStack, chromium_path

TIMEOUT_MS = 30_000
# Waits end as soon as the page shows the state; the bound is for a loaded machine.
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API runs an event loop in this thread; the ORM calls here (and the
    test database flush) are plain blocking test code, which Django allows with this flag."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def stack(transactional_db: Any) -> Iterator[LiveStack]:
    live = LiveStack()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser(orm_beside_playwright: None) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def context_as(browser: Browser, stack: LiveStack, user: Any, **options: Any) -> BrowserContext:
    """A browser context signed in as user (session cookie from Django's test client);
    options go to new_context (viewport, java_script_enabled, permissions, ...)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=stack.url, **options)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": stack.url}]
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


def page_as(browser: Browser, stack: LiveStack, user: Any, **options: Any) -> Page:
    """A page signed in as user; see context_as()."""
    return context_as(browser, stack, user, **options).new_page()
