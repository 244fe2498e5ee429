"""Run inside a virtualenv holding only the wheel: a tracked job, seen over the WebSocket,
then the list page and the API detail; then pipelines started over HTTP as a browser and an
API client would (JSON, multipart, the list page's form), seen finishing on a socket, and
the admin's run list. Run `manage.py migrate` first; prints "ok"."""

import asyncio
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
django.setup()

from django.contrib.auth.models import Permission, User  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import Client  # noqa: E402
from exampleproject.asgi import application  # noqa: E402

from progress import tasks, testing  # noqa: E402

SHEEP = 25


def make_user() -> User:
    user = User.objects.create_user("shepherd", password="not-used")
    user.user_permissions.add(Permission.objects.get(codename="start_pipeline"))
    return user


async def watch_a_run(user: User) -> int:
    socket, accepted = await testing.connect(user=user, application=application)
    assert accepted, "the socket was refused"
    assert (await testing.receive_json(socket))["type"] == "snapshot"
    run = await asyncio.to_thread(
        tasks.enqueue, "count_sheep", user=user, parameters={"sheep": SHEEP}
    )
    messages = await testing.receive_until(
        socket, lambda m: m.get("data", {}).get("id") == run.pk and m["type"] != "progress_update"
    )
    final = messages[-1]
    assert final["type"] == "task_completed", final
    assert (final["data"]["current_item"], final["data"]["items_added"]) == (SHEEP, SHEEP)
    await socket.disconnect()
    return run.pk


def load_pages(user: User, run_id: int) -> None:
    client = Client()
    client.force_login(user)
    page = client.get("/progress/")
    assert page.status_code == 200, page.status_code
    detail = client.get(f"/api/v1/operations/{run_id}/")
    assert detail.status_code == 200, detail.content
    data = detail.json()
    assert (data["status"], data["items_added"]) == ("completed", SHEEP), data
    assert [f["label"] for f in data["files"]] == ["sheep.txt"], data["files"]
    download = client.get(data["files"][0]["url"])
    assert b"".join(download.streaming_content) == f"{SHEEP} sheep\n".encode()
    pipelines = client.get("/api/v1/pipelines/").json()
    assert sorted(p["name"] for p in pipelines) == ["count_lines", "count_sheep"], pipelines
    assert client.get("/api/v1/no/such/path/").json()["detail"]


def start_over_http(user: User) -> list[int]:
    """Start pipelines as an API client (JSON, multipart) and a browser's form would."""
    client = Client()
    client.force_login(user)
    started = []
    response = client.post(
        "/api/v1/pipelines/count_sheep/start/", {"sheep": 7}, content_type="application/json"
    )
    assert response.status_code == 202, (response.status_code, response.content)
    started.append(response.json()["id"])
    upload = SimpleUploadedFile("flock.txt", b"a\nb\nc\n")
    response = client.post("/api/v1/pipelines/count_lines/start/", {"file": upload})
    assert response.status_code == 202, (response.status_code, response.content)
    started.append(response.json()["id"])
    upload = SimpleUploadedFile("herd.txt", b"1\n2\n3\n4\n")
    response = client.post("/progress/pipelines/count_lines/start/", {"file": upload})
    assert response.status_code == 302, (response.status_code, response.content[:500])
    started.append(int(response.url.rstrip("/").rsplit("/", 1)[-1]))
    return started


async def watch_http_starts(user: User) -> None:
    socket, accepted = await testing.connect(user=user, application=application)
    assert accepted, "the socket was refused"
    await testing.receive_json(socket)  # the snapshot
    ids = await asyncio.to_thread(start_over_http, user)
    finals: dict[int, dict] = {}

    def all_final(message: dict) -> bool:
        data = message.get("data", {})
        if message.get("type") == "task_completed":
            finals[data["id"]] = data
        return set(ids) <= set(finals)

    messages = await testing.receive_until(socket, all_final)
    assert set(ids) <= set(finals), messages
    assert [finals[i]["items_added"] for i in ids] == [7, 3, 4], finals
    await socket.disconnect()


def admin_lists_runs() -> None:
    User.objects.create_superuser("admin", password="not-used")
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    page = client.get("/admin/progress/operationprogress/")
    assert page.status_code == 200, page.status_code
    assert b"Count lines" in page.content or b"count_lines" in page.content


if __name__ == "__main__":
    shepherd = make_user()
    run_id = asyncio.run(watch_a_run(shepherd))
    load_pages(shepherd, run_id)
    asyncio.run(watch_http_starts(shepherd))
    admin_lists_runs()
    testing.flush()
    print("ok")
