"""Run inside a virtualenv holding only the wheel: a tracked job, seen over the WebSocket,
then the list page and the API detail. Run `manage.py migrate` first; prints "ok"."""

import asyncio
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
django.setup()

from django.contrib.auth.models import Permission, User  # noqa: E402
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
    assert [p["name"] for p in pipelines] == ["count_sheep"], pipelines
    assert client.get("/api/v1/no/such/path/").json()["detail"]


if __name__ == "__main__":
    shepherd = make_user()
    run_id = asyncio.run(watch_a_run(shepherd))
    load_pages(shepherd, run_id)
    testing.flush()
    print("ok")
