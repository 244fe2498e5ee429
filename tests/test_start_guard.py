"""A refused start is answered from its headers alone: the application never reads the body.

Each request declares a large Content-Length and a receive() that fails the test if the
application asks for the body. Without the guard, Django's ASGI handler reads the body
before any view runs. (daphne itself buffers a body before calling the application unless
tune_daphne() bounds it: tests/test_daphne_body_limit.py; docs/security.md says where.)
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.test import Client

from progress.tests.factories import UserFactory
from progressproject.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

HUGE = 120 * 1024 * 1024
API_START = "/api/v1/pipelines/gene_import/start/"
PAGE_START = "/progress/pipelines/gene_import/start/"


async def headers_only(
    path: str, *, length: int | None, body: bytes | None = None, **headers: str
) -> tuple[int, str]:
    """POST path through the project's ASGI application; without body, it must never be read."""
    raw = [(b"host", b"127.0.0.1"), (b"content-type", b"multipart/form-data; boundary=xyz")]
    if length is not None:
        raw.append((b"content-length", str(length).encode()))
    raw += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    reads = []

    async def receive() -> dict[str, Any]:
        if body is None:
            raise AssertionError("the application asked for the body of a refused start")
        reads.append(1)
        if len(reads) > 1:  # Django then listens for a disconnect until it has answered
            await asyncio.sleep(60)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(scope, receive, send)
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], answer.decode()


def curator_with_permission() -> None:
    curator = UserFactory(username="curator", password="curator-pw-123")
    curator.user_permissions.add(Permission.objects.get(codename="start_pipeline"))


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def session(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def test_a_user_without_permission_is_refused_before_sending_the_body():
    await sync_to_async(UserFactory)(username="viewer", password="viewer-pw-123")
    status, body = await headers_only(
        API_START, length=HUGE, Authorization=basic("viewer", "viewer-pw-123")
    )
    assert status == 403
    assert "progress.start_pipeline" in json.loads(body)["detail"]


async def test_an_oversized_upload_is_refused_before_sending_the_body():
    await sync_to_async(curator_with_permission)()
    status, body = await headers_only(
        API_START, length=HUGE, Authorization=basic("curator", "curator-pw-123")
    )
    assert status == 413
    assert "MAX_UPLOAD_BYTES" in json.loads(body)["detail"]


async def test_the_page_start_refuses_from_the_session_cookie_too():
    cookie = await sync_to_async(lambda: session(UserFactory(username="viewer2")))()
    status, body = await headers_only(PAGE_START, length=HUGE, Cookie=cookie)
    assert status == 403
    assert body.startswith("Not started:")


async def test_anonymous_and_wrong_credentials_are_refused_before_the_body():
    anonymous, _ = await headers_only(API_START, length=HUGE)
    wrong, _ = await headers_only(API_START, length=HUGE, Authorization=basic("nobody", "x"))
    assert (anonymous, wrong) == (403, 401)


async def test_a_start_without_content_length_is_refused():
    await sync_to_async(UserFactory)(username="viewer3", password="viewer-pw-123")
    status, body = await headers_only(
        API_START, length=None, Authorization=basic("viewer3", "viewer-pw-123")
    )
    assert status == 411
    assert "Content-Length" in json.loads(body)["detail"]


async def test_a_permitted_start_of_a_fitting_size_goes_through_to_the_view(settings):
    # Queued only: a task running past the test would race the database flush.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    await sync_to_async(curator_with_permission)()
    body = (
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="file"; filename="genes.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nHGNC:5,PKD1\r\n"
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="scope"\r\n\r\nguarded\r\n'
        b"--xyz--\r\n"
    )
    status, answer = await headers_only(
        API_START, length=len(body), body=body, Authorization=basic("curator", "curator-pw-123")
    )
    assert status == 202, answer
    assert json.loads(answer)["status"] == "queued"
