"""Pages: the same visibility and permission rules as the API and the WebSocket."""

from __future__ import annotations

import pytest
from django.test import Client

from curation.factories import ScopeFactory
from progress.models import OperationProgress, Status
from progress.tests.factories import OperationProgressFactory

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_the_login_page():
    response = Client().get("/progress/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_list_page_holds_the_users_runs_and_the_pipelines_they_may_start(curator, viewer):
    mine = OperationProgressFactory(created_by=curator)
    theirs = OperationProgressFactory(created_by=viewer)
    page = logged_in(curator).get("/progress/")
    ids = [op["id"] for op in page.context["initial"]]
    assert ids == [mine.pk] and theirs.pk not in ids
    assert {p["name"] for p in page.context["pipelines"]} >= {"gene_import", "curation_pipeline"}
    assert logged_in(viewer).get("/progress/").context["pipelines"] == []


def test_detail_of_another_users_run_is_a_404(curator, viewer):
    theirs = OperationProgressFactory(created_by=viewer)
    assert logged_in(curator).get(f"/progress/{theirs.pk}/").status_code == 404
    assert logged_in(curator).post(f"/progress/{theirs.pk}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Status.RUNNING


def test_cancel_from_the_page_needs_a_csrf_token(curator):
    run = OperationProgressFactory(created_by=curator, status=Status.QUEUED)
    client = logged_in(curator, enforce_csrf_checks=True)
    assert client.post(f"/progress/{run.pk}/cancel/").status_code == 403
    page = client.get(f"/progress/{run.pk}/")
    assert page.context["can_cancel"] is True
    token = page.cookies["csrftoken"].value
    response = client.post(f"/progress/{run.pk}/cancel/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == Status.CANCELLED


def test_starting_from_the_page_redirects_to_the_new_run(curator, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    ScopeFactory(name="page")
    response = logged_in(curator).post(
        "/progress/pipelines/validate_schemas/start/", {"scope": "page"}
    )
    run = OperationProgress.objects.get()
    assert response["Location"] == f"/progress/{run.pk}/"
    assert (run.created_by, run.status) == (curator, Status.COMPLETED)


def test_a_refused_page_start_explains_and_starts_nothing(curator, viewer):
    response = logged_in(curator).post(
        "/progress/pipelines/curation_pipeline/start/", {"scope": "missing"}, follow=True
    )
    assert "No scope" in response.content.decode() or any(
        "No scope" in str(m) for m in response.context["messages"]
    )
    assert logged_in(viewer).post("/progress/pipelines/calculate_scores/start/").status_code == 403
    assert not OperationProgress.objects.exists()


def test_the_full_row_error_report_downloads_for_the_owner_only(curator, viewer, tmp_path):
    from curation.gene_import import gene_import
    from curation.models import Scope
    from progress.tracker import track_operation

    bad = tmp_path / "bad.csv"
    bad.write_text("hgnc_id,symbol\n9008,PKD1\nHGNC:abc,X\n")
    with track_operation("gene_import", user=curator) as tracker:
        gene_import(path=bad, scope=Scope.objects.create(name="r"), tracker=tracker)
    response = logged_in(curator).get(f"/progress/{tracker.id}/report/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines() == [
        "line,value,reason",
        "3,\"HGNC:abc, X\",'HGNC:abc' is not an HGNC id; write HGNC:<digits> (e.g. HGNC:42) or "
        "the digits",
    ]
    assert logged_in(viewer).get(f"/progress/{tracker.id}/report/").status_code == 404


def test_a_report_path_outside_the_reports_folder_is_never_served(curator):
    run = OperationProgressFactory(created_by=curator, metadata={"report_path": "/etc/passwd"})
    assert logged_in(curator).get(f"/progress/{run.pk}/report/").status_code == 404


def test_the_run_page_shows_its_owner_no_server_paths_in_the_error(curator, settings):
    secret = f"{settings.BASE_DIR}/var/secret-config.ini"
    failed = OperationProgressFactory(
        created_by=curator,
        status=Status.FAILED,
        error_message=f"FileNotFoundError: {secret} is missing",
    )
    page = logged_in(curator).get(f"/progress/{failed.pk}/").content.decode()
    assert "FileNotFoundError" in page
    assert str(settings.BASE_DIR) not in page
