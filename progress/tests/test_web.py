"""The app's web layer (API, pages, downloads, start refusals, admin) through a pipeline of
its own: no domain app needed, as in any host project."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework import serializers

from progress import pipelines
from progress.files import file_open
from progress.models import OperationProgress, Status
from progress.tasks import tracked_task
from progress.tests.factories import StaffFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_progress")]


class LinesParameters(serializers.Serializer):
    file = serializers.FileField()
    label = serializers.CharField(max_length=40, default="lines")


@tracked_task(
    name="web_count_lines", title="Count lines", parameters=LinesParameters, uploads=("file",)
)
def count_lines(tracker, *, file: str, label: str = "lines") -> dict[str, int]:
    """Count an uploaded file's lines, one item each."""
    with file_open(file) as stored:
        lines = stored.read().splitlines()
    for _ in tracker.track(lines):
        tracker.advance(0, added=1)
    tracker.attach_file("summary.txt", f"{len(lines)} {label}\n".encode())
    return {"lines": len(lines)}


COUNT_LINES = pipelines.unregister("web_count_lines")


@pytest.fixture
def pipeline(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    pipelines.register(COUNT_LINES)
    yield COUNT_LINES
    pipelines.unregister("web_count_lines")


@pytest.fixture
def starter(transactional_db):
    user = UserFactory(username="starter")
    user.user_permissions.add(Permission.objects.get(codename="start_pipeline"))
    client = Client()
    client.force_login(user)
    return client


def upload(text: str = "a\nb\nc\n", name: str = "flock.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def test_the_api_starts_a_pipeline_with_an_upload_and_lists_its_files(pipeline, starter):
    response = starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()})
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    detail = starter.get(f"/api/v1/operations/{run_id}/").json()
    assert (detail["status"], detail["items_added"]) == (Status.COMPLETED, 3)
    assert [f["label"] for f in detail["files"]] == ["flock.txt", "summary.txt"]
    summary = starter.get(detail["files"][1]["url"])
    assert summary["Content-Disposition"].startswith("attachment")
    assert b"".join(summary.streaming_content) == b"3 lines\n"


def test_a_json_start_without_the_upload_is_a_400_naming_the_field(pipeline, starter):
    response = starter.post(
        "/api/v1/pipelines/web_count_lines/start/", {"label": "x"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "file" in response.json()
    assert not OperationProgress.objects.exists()


def test_the_list_pages_form_starts_a_run_and_its_page_shows_it(pipeline, starter):
    response = starter.post(
        "/progress/pipelines/web_count_lines/start/", {"file": upload(name="herd.txt")}
    )
    assert response.status_code == 302
    run = OperationProgress.objects.get()
    assert response.url == f"/progress/{run.pk}/"
    page = starter.get(response.url)
    assert (
        page.status_code == 200
        # The heading names the pipeline by its title, not its machine name.
        and f'Count lines <span class="run__id">#{run.pk}'.encode() in page.content
    )
    listed = starter.get("/progress/", {"q": "herd.txt"})
    assert f"/progress/{run.pk}/".encode() in listed.content


def test_an_upload_over_the_limit_is_refused_before_a_run_exists(pipeline, starter, settings):
    settings.PROGRESS = {"MAX_UPLOAD_BYTES": 10}
    big = upload("x\n" * 100_000)
    response = starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": big})
    assert response.status_code == 413
    assert 'PROGRESS["MAX_UPLOAD_BYTES"]' in response.json()["detail"]
    assert not OperationProgress.objects.exists()


def test_someone_elses_run_and_its_files_are_a_404(pipeline, starter):
    starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()})
    run = OperationProgress.objects.get()
    other = Client()
    other.force_login(UserFactory(username="other"))
    assert other.get(f"/progress/{run.pk}/").status_code == 404
    assert other.get(f"/progress/{run.pk}/files/0/").status_code == 404
    assert other.get(f"/api/v1/operations/{run.pk}/").status_code == 404


def test_the_admin_lists_and_shows_the_run_to_staff(pipeline, starter):
    starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()})
    run = OperationProgress.objects.get()
    admin = Client()
    admin.force_login(StaffFactory(username="boss", is_superuser=True))
    listing = admin.get("/admin/progress/operationprogress/")
    assert listing.status_code == 200 and f"/{run.pk}/change/".encode() in listing.content
    assert admin.get(f"/admin/progress/operationprogress/{run.pk}/change/").status_code == 200


def test_a_cancel_from_a_signed_out_tab_comes_back_to_the_run_not_a_405(pipeline, starter):
    starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()})
    run = OperationProgress.objects.get()
    signed_out = Client()
    to_login = signed_out.post(f"/progress/{run.pk}/cancel/")
    assert to_login.status_code == 302 and "next=" in to_login.url
    # After signing in, the login page sends the browser back to the same URL with a GET.
    back = starter.get(f"/progress/{run.pk}/cancel/", follow=True)
    assert back.redirect_chain[-1] == (f"/progress/{run.pk}/", 302)
    assert b"was not cancelled: press Cancel again" in back.content
    assert OperationProgress.objects.get().cancel_requested_at is None  # nothing done on a GET


def test_revisiting_a_start_url_opens_its_form_instead_of_a_405(pipeline, starter):
    back = starter.get("/progress/pipelines/web_count_lines/start/", follow=True)
    assert back.redirect_chain[-1] == ("/progress/?start=web_count_lines", 302)
    assert b"Nothing was started" in back.content
    assert not OperationProgress.objects.exists()


def test_starts_past_the_users_active_run_limit_are_a_429_saying_what_to_do(
    pipeline, starter, settings
):
    settings.PROGRESS = {"MAX_ACTIVE_RUNS_PER_USER": 2}
    user = get_user_model().objects.get(username="starter")
    for _ in range(2):  # two runs still queued (their worker has not picked them up)
        OperationProgress.objects.create(
            operation_name="web_count_lines", status=Status.QUEUED, created_by=user
        )
    response = starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()})
    assert response.status_code == 429
    assert "at most 2 may run at once" in response.json()["detail"]
    assert response["Retry-After"]
    page = starter.post("/progress/pipelines/web_count_lines/start/", {"file": upload()})
    assert page.status_code == 429 and b"Wait for one to finish, or cancel one" in page.content
    assert OperationProgress.objects.count() == 2  # nothing was started


def test_starts_past_the_users_rate_are_refused_and_other_users_still_start(
    pipeline, starter, settings
):
    settings.PROGRESS = {"MAX_STARTS_PER_MINUTE": 3}
    codes = [
        starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()}).status_code
        for _ in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    other = Client()
    someone = UserFactory(username="someone")
    someone.user_permissions.add(Permission.objects.get(codename="start_pipeline"))
    other.force_login(someone)
    assert (
        other.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()}).status_code
        == 202
    )


def test_starts_are_refused_once_a_users_stored_files_would_pass_their_quota(
    pipeline, starter, settings
):
    # Each start stores its upload (6 bytes) and a summary report (8 bytes).
    settings.PROGRESS = {"MAX_STORED_BYTES_PER_USER": 30}
    first = starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()})
    assert first.status_code == 202, first.content
    second = starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()})
    assert second.status_code == 202, second.content  # 14 + 14 + 6 > 30 only on the next
    refused = starter.post("/api/v1/pipelines/web_count_lines/start/", {"file": upload()})
    assert refused.status_code == 413
    message = refused.json()["detail"]
    assert "take 0.0 MiB" in message and 'PROGRESS["MAX_STORED_BYTES_PER_USER"]' in message
    assert "pruned after 30 days" in message
    # The page's form says the same beside the form, with a 413; nothing is stored for it.
    page = starter.post("/progress/pipelines/web_count_lines/start/", {"file": upload()})
    assert page.status_code == 413
    assert "MAX_STORED_BYTES_PER_USER" in page.content.decode()
    assert OperationProgress.objects.count() == 2
