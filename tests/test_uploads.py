"""Uploads (issue 11): refused before the body is read, stored, read by the task from the
storage, deleted with their run; bad files are 4xx, never 500; re-runs validated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from curation.models import Gene
from progress.models import OperationProgress, Status
from progress.tests.factories import OperationProgressFactory
from progress.tests.waiting import wait_for_final

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_progress", "media"),
]
START = "/api/v1/pipelines/gene_import/start/"
PAGE_START = "/progress/pipelines/gene_import/start/"
BIG = 200 * 1024 * 1024


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def immediate(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


class UnreadableBody:
    """A request body that fails the test if anything reads it."""

    reads = 0

    def read(self, *args):
        UnreadableBody.reads += 1
        raise AssertionError("the view read the body")

    readline = read


def post_unreadable(client, path, *, length=BIG):
    """POST a multipart request whose body must never be read."""
    UnreadableBody.reads = 0
    body = {
        "wsgi.input": UnreadableBody(),
        "CONTENT_LENGTH": str(length),
        "CONTENT_TYPE": "multipart/form-data; boundary=xyz",
    }
    return client.generic("POST", path, b"", **body)


def with_csrf_cookie(client):
    """A client that holds a CSRF cookie, so Django's CSRF check would read the form."""
    client.cookies["csrftoken"] = _get_new_csrf_string()
    return client


def api(user, *, csrf=False):
    client = APIClient(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def page(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return with_csrf_cookie(client)


def upload(content, name="genes.csv"):
    return SimpleUploadedFile(name, content, "application/octet-stream")


# --- refused before the body is read -----------------------------------------------------


@pytest.mark.parametrize("csrf", [False, True])
def test_api_refuses_a_user_without_permission_before_reading_the_body(viewer, csrf):
    client = with_csrf_cookie(api(viewer, csrf=csrf))
    response = post_unreadable(client, START)
    assert response.status_code == 403
    assert "progress.start_pipeline" in response.json()["detail"]
    assert UnreadableBody.reads == 0
    assert not OperationProgress.objects.exists()


def test_page_refuses_a_user_without_permission_before_reading_the_body(viewer):
    response = post_unreadable(page(viewer), PAGE_START)
    assert response.status_code == 403
    assert UnreadableBody.reads == 0


def test_api_refuses_a_body_over_the_upload_limit_with_413_before_reading_it(curator):
    response = post_unreadable(api(curator), START)
    assert response.status_code == 413
    assert "MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert UnreadableBody.reads == 0
    assert not OperationProgress.objects.exists()


def test_page_refuses_a_body_over_the_upload_limit_before_reading_it(curator):
    response = post_unreadable(page(curator), PAGE_START)
    assert response.status_code == 413
    assert UnreadableBody.reads == 0
    assert not OperationProgress.objects.exists()


def test_the_page_still_checks_csrf_once_permission_and_size_pass(curator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(curator)
    response = client.post(PAGE_START, {"file": upload(b"hgnc_id\n1\n")})
    assert response.status_code == 403  # no CSRF token
    assert not OperationProgress.objects.exists()


def test_the_api_still_checks_csrf_for_session_users(curator):
    response = with_csrf_cookie(api(curator, csrf=True)).post(
        START, {"file": upload(b"hgnc_id\n1\n")}, format="multipart"
    )
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not OperationProgress.objects.exists()


# --- bad input is a 4xx, never a 500 -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("genes.json", b"[" + b"9" * 5000 + b"]", "number longer than 100 digits"),
        ("genes.json", b"[" * 100_000, "nested deeper than 6 levels"),
        ("genes.json", b'{"genes": [1] trailing', "Invalid JSON"),
        ("genes.csv", b"hgnc_id\n" + b"x" * 70_000 + b"\n", "longer than 65,536 characters"),
        ("genes.csv", b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_hostile_uploads_are_a_400_saying_what_to_fix(curator, name, content, says):
    response = api(curator).post(START, {"file": upload(content, name)}, format="multipart")
    assert response.status_code == 400, response.content
    assert says in str(response.json()["file"])
    assert not OperationProgress.objects.exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"[" * 10_000, 400), (b"[" * 100_000, 413), (b"[" + b"9" * 5000 + b"]", 400)],
)
def test_hostile_json_parameters_are_a_4xx(curator, body, status):
    response = api(curator).generic(
        "POST", "/api/v1/pipelines/calculate_scores/start/", body, "application/json"
    )
    assert response.status_code == status, response.content
    assert response.json()["detail"]


def test_a_250_character_file_name_is_accepted_and_never_used_as_a_path(curator, immediate):
    name = "g" * 246 + ".csv"
    response = api(curator).post(
        START, {"file": upload(b"hgnc_id\n9008\n", name), "scope": "long"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    run = wait_for_final(response.json()["id"])
    assert (run.status, run.items_added) == (Status.COMPLETED, 1)
    stored = run.metadata["parameters"]["file"]
    assert stored.startswith("progress/uploads/") and len(stored) < 60
    assert run.metadata["files"][0]["label"].startswith("ggg")


@pytest.mark.service
@pytest.mark.slow
def test_a_large_upload_with_a_250_character_extension_is_not_a_500(curator, immediate):
    # Over FILE_UPLOAD_MAX_MEMORY_SIZE: Django spools it to a temporary file named after it.
    name = "a." + "b" * 250
    content = b"hgnc_id\n" + b"1\n" * 1_500_000
    response = api(curator).post(START, {"file": upload(content, name)}, format="multipart")
    assert response.status_code == 202, response.content
    run = OperationProgress.objects.get()
    assert run.metadata["files"][0]["label"].startswith("a.bbb")
    assert len(run.metadata["files"][0]["label"]) <= 100
    # The request checked a prefix; the task's first pass finds the row limit, before writing.
    assert run.status == Status.FAILED
    assert "more than 1,000,000 rows; split it" in run.error_message
    assert not Gene.objects.exists()


# --- stored through the storage API, read by the task from it ----------------------------


def test_an_upload_is_stored_by_name_and_the_task_reads_it_from_the_storage(curator, settings):
    # An in-memory storage: a task reading a local path instead would find nothing.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    response = api(curator).post(
        START,
        {"file": upload(b"hgnc_id,symbol\n9008,PKD1\nHGNC:abc,X\n"), "scope": "stored"},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    run = OperationProgress.objects.get(pk=response.json()["id"])
    assert (run.status, run.items_added, run.items_failed) == (Status.COMPLETED, 1, 1)
    name = run.metadata["parameters"]["file"]
    assert name.startswith("progress/uploads/") and default_storage.exists(name)
    kinds = {entry["kind"]: entry["name"] for entry in run.metadata["files"]}
    assert set(kinds) == {"upload", "report"} and kinds["upload"] == name
    assert kinds["report"].startswith("progress/reports/")
    assert default_storage.exists(kinds["report"])


def test_the_report_downloads_from_the_storage_for_those_who_may_see_the_run(
    curator, viewer, immediate
):
    response = api(curator).post(
        START, {"file": upload(b"hgnc_id\n9008\n=HYPERLINK(1)\n"), "scope": "r"}, format="multipart"
    )
    run_id = response.json()["id"]
    download = page(curator).get(f"/progress/{run_id}/report/")
    assert download.status_code == 200
    assert download["Content-Disposition"].endswith('filename="genes-row-errors.csv"')
    assert "'=HYPERLINK(1)" in b"".join(download.streaming_content).decode()
    assert page(viewer).get(f"/progress/{run_id}/report/").status_code == 404


@pytest.mark.parametrize("name", ["evil.html", "evil.svg", "evil.xhtml"])
def test_an_upload_named_as_active_content_downloads_as_bytes_never_as_a_page(
    curator, immediate, name
):
    body = b"hgnc_id\n9008\nHGNC:abc\n"
    response = api(curator).post(
        START,
        {"file": SimpleUploadedFile(name, body, content_type="text/html"), "scope": "x"},
        format="multipart",
    )
    run = OperationProgress.objects.get(pk=response.json()["id"])
    kinds = [entry["kind"] for entry in run.metadata["files"]]
    upload = page(curator).get(f"/progress/{run.pk}/files/{kinds.index('upload')}/")
    assert upload["Content-Type"] == "application/octet-stream"
    assert upload["Content-Disposition"].startswith("attachment")
    assert upload["X-Content-Type-Options"] == "nosniff"
    assert b"".join(upload.streaming_content) == body


@pytest.mark.parametrize("name", ["evil.svg", "genes.csv"])
def test_the_row_error_report_is_stored_and_served_as_csv_whatever_the_uploads_name(
    curator, immediate, name
):
    response = api(curator).post(
        START,
        {"file": SimpleUploadedFile(name, b"hgnc_id\nHGNC:abc\n"), "scope": "x"},
        format="multipart",
    )
    run = OperationProgress.objects.get(pk=response.json()["id"])
    (report,) = [entry for entry in run.metadata["files"] if entry["kind"] == "report"]
    assert report["name"].endswith(".csv")
    download = page(curator).get(f"/progress/{run.pk}/report/")
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"].startswith("attachment")
    assert download["Content-Disposition"].endswith('.csv"')
    assert download["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", ["/etc/passwd", "../../etc/passwd", "reports/../../x"])
def test_a_report_name_outside_the_storage_is_never_served(curator, name):
    run = OperationProgressFactory(
        created_by=curator,
        status=Status.COMPLETED,
        metadata={"files": [{"name": name, "label": "x", "kind": "report"}]},
    )
    assert page(curator).get(f"/progress/{run.pk}/report/").status_code == 404


# --- pruning deletes the files a run owns ------------------------------------------------


def test_prune_deletes_old_runs_files_and_keeps_recent_ones(settings):
    def run_with_files(age_days, *names):
        for name in names:
            default_storage.save(name, ContentFile(b"x"))
        run = OperationProgressFactory(
            status=Status.COMPLETED,
            metadata={"files": [{"name": n, "label": n, "kind": "upload"} for n in names]},
        )
        OperationProgress.objects.filter(pk=run.pk).update(
            created_at=timezone.now() - timedelta(days=age_days)
        )
        return run

    old = run_with_files(40, "uploads/old.csv", "reports/import-1-errors.csv")
    recent = run_with_files(1, "uploads/recent.csv")
    call_command("prune_operations", "--older-than", "30d")
    assert not OperationProgress.objects.filter(pk=old.pk).exists()
    assert not default_storage.exists("uploads/old.csv")
    assert not default_storage.exists("reports/import-1-errors.csv")
    assert OperationProgress.objects.filter(pk=recent.pk).exists()
    assert default_storage.exists("uploads/recent.csv")


# --- re-run: validated exactly as a fresh start ------------------------------------------


def rerun(admin_user, run):
    client = Client()
    client.force_login(admin_user)
    return client.post(
        "/admin/progress/operationprogress/",
        {"action": "rerun_runs", "_selected_action": [run.pk], "post": "yes"},
        follow=True,
    )


def test_rerun_refuses_stored_parameters_the_task_does_not_take(admin_user):
    seeded = OperationProgressFactory(
        created_by=admin_user,
        status=Status.COMPLETED,
        metadata={"pipeline": "gene_import", "parameters": {"path": "x.json", "scope": "s"}},
    )
    response = rerun(admin_user, seeded)
    text = " ".join(str(m) for m in response.context["messages"])
    assert f"Run {seeded.pk}" in text and "is gone" in text
    assert OperationProgress.objects.count() == 1


def test_rerun_refuses_an_upload_that_was_pruned(admin_user, curator, immediate):
    response = api(curator).post(START, {"file": upload(b"hgnc_id\n9008\n")}, format="multipart")
    first = OperationProgress.objects.get(pk=response.json()["id"])
    default_storage.delete(first.metadata["parameters"]["file"])
    text = " ".join(str(m) for m in rerun(admin_user, first).context["messages"])
    assert "uploaded file is gone" in text
    assert OperationProgress.objects.count() == 1


def test_rerun_refuses_parameters_a_fresh_start_would_refuse(admin_user):
    ran = OperationProgressFactory(
        created_by=admin_user,
        operation_name="calculate_scores",
        status=Status.FAILED,
        metadata={"pipeline": "calculate_scores", "parameters": {"scope": "deleted-scope"}},
    )
    text = " ".join(str(m) for m in rerun(admin_user, ran).context["messages"])
    assert "cannot be re-run" in text and "No scope 'deleted-scope'" in text
    assert OperationProgress.objects.count() == 1


def test_rerun_of_an_upload_validates_it_and_gives_the_new_run_its_own_copy(
    admin_user, curator, immediate
):
    response = api(curator).post(
        START, {"file": upload(b"hgnc_id\n9008\n"), "scope": "again"}, format="multipart"
    )
    first = OperationProgress.objects.get(pk=response.json()["id"])
    rerun(admin_user, first)
    second = OperationProgress.objects.exclude(pk=first.pk).get()
    assert (second.status, second.items_updated + second.items_added) == (Status.COMPLETED, 0)
    assert second.metadata["parameters"]["file"] != first.metadata["parameters"]["file"]
    assert default_storage.exists(second.metadata["parameters"]["file"])
    assert second.metadata["files"][0]["label"] == "genes.csv"
    assert Gene.objects.count() == 1
    assert "Re-run as run" in LogEntry.objects.get(object_id=str(first.pk)).change_message
