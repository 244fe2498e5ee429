"""Admin: inspection, logged and permission-checked actions, launching, visibility."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from curation.factories import CurationFactory, ScopeFactory
from progress.models import OperationProgress, Status
from progress.tests.factories import OperationProgressFactory, StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/progress/operationprogress/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_changelist_shows_runs_with_live_progress_elements(admin_user, curator):
    run = OperationProgressFactory(created_by=curator, current_item=5, total_items=20, rate=2.5)
    page = logged_in(admin_user).get(CHANGELIST).content.decode()
    assert f'<progress-operation operation-id="{run.pk}"' in page
    assert "5/20" in page and "2.5/s" in page
    assert 'type="module"' in page and "progress/element.js" in page


def test_changelist_filters_and_searches_error_text(admin_user, curator):
    OperationProgressFactory(created_by=curator, status=Status.FAILED, error_message="HGNC:abc bad")
    OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    client = logged_in(admin_user)
    assert client.get(CHANGELIST, {"q": "HGNC:abc"}).context["cl"].result_count == 1
    assert client.get(CHANGELIST, {"status__exact": "completed"}).context["cl"].result_count == 1


def test_change_view_renders_error_traceback_stages_and_row_failures(admin_user, curator):
    run = OperationProgressFactory(
        created_by=curator,
        status=Status.FAILED,
        error_message="RuntimeError: boom",
        metadata={
            "traceback": "Traceback (most recent call last): ...",
            "stages": ["import", "validate"],
            "stage": {"name": "validate", "index": 2, "count": 2},
            "row_errors": [{"line": 7, "value": "HGNC:abc", "reason": "not an HGNC id"}],
            "row_errors_total": 1,
        },
    )
    page = logged_in(admin_user).get(f"{CHANGELIST}{run.pk}/change/").content.decode()
    assert "RuntimeError: boom" in page and "<summary>Traceback</summary>" in page
    assert "<td>7</td><td>HGNC:abc</td><td>not an HGNC id</td>" in page
    assert "stage 2 of 2: import → <strong>▶ validate</strong>" in page
    assert 'name="_save"' not in page  # read-only


def test_cancel_action_is_logged_and_needs_the_permission(admin_user, curator):
    run = OperationProgressFactory(created_by=curator, status=Status.QUEUED)
    response = logged_in(admin_user).post(
        CHANGELIST, {"action": "cancel_runs", "_selected_action": [run.pk]}, follow=True
    )
    assert "Cancel requested for 1 run(s)." in response.content.decode()
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert LogEntry.objects.get(object_id=str(run.pk)).change_message == "Requested cancel"

    staff = StaffFactory(username="staff-no-perms")
    staff.user_permissions.add(Permission.objects.get(codename="view_operationprogress"))
    other = OperationProgressFactory(created_by=curator, status=Status.QUEUED)
    logged_in(staff).post(CHANGELIST, {"action": "cancel_runs", "_selected_action": [other.pk]})
    other.refresh_from_db()
    assert other.status == Status.QUEUED  # the action is not offered without the permission


def test_mark_stalled_action(admin_user, curator):
    run = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    logged_in(admin_user).post(
        CHANGELIST, {"action": "mark_runs_stalled", "_selected_action": [run.pk]}
    )
    run.refresh_from_db()
    assert run.status == Status.STALLED
    assert "Marked stalled by boss" in run.error_message


def test_rerun_action_starts_the_same_pipeline_with_the_same_parameters(admin_user, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    ScopeFactory(name="again")
    finished = OperationProgressFactory(
        created_by=admin_user,
        operation_name="calculate_scores",
        status=Status.STALLED,
        metadata={"pipeline": "calculate_scores", "parameters": {"scope": "again"}},
    )
    logged_in(admin_user).post(
        CHANGELIST, {"action": "rerun_runs", "_selected_action": [finished.pk]}
    )
    rerun = OperationProgress.objects.exclude(pk=finished.pk).get()
    assert rerun.metadata["parameters"] == {"scope": "again"}
    assert rerun.status == Status.COMPLETED
    assert "Re-run as run" in LogEntry.objects.get(object_id=str(finished.pk)).change_message


def test_launch_view_starts_a_pipeline_and_logs_it(admin_user, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    scope = ScopeFactory(name="launch")
    CurationFactory(scope=scope)
    client = logged_in(admin_user)
    form = client.get(f"{CHANGELIST}launch/").content.decode()
    assert "Run curation pipeline" in form and "Import genes" in form
    client.post(f"{CHANGELIST}launch/", {"pipeline": "calculate_scores", "scope": "launch"})
    run = OperationProgress.objects.get()
    assert (run.operation_name, run.status, run.current_item) == (
        "calculate_scores",
        "completed",
        1,
    )
    assert LogEntry.objects.get(object_id=str(run.pk)).change_message == "Launched calculate_scores"


def test_non_staff_users_get_no_admin(curator):
    assert logged_in(curator).get(CHANGELIST).status_code == 302  # to the admin login


def test_curation_admin_lists_scores_and_validity(admin_user):
    CurationFactory(classification="Moderate", total_score=8.0)
    page = logged_in(admin_user).get("/admin/curation/curation/").content.decode()
    assert "Moderate" in page and "8.0" in page
