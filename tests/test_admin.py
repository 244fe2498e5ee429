"""Admin: inspection, a run's own buttons, logged and permission-checked actions whose
messages count and explain, launching, re-runs validated as fresh starts, visibility."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import constants
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.tasks import TaskResultStatus, default_task_backend, task
from django.test import Client
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIClient

from curation.factories import CurationFactory, ScopeFactory
from curation.management.commands.seed_demo import seeded_import
from progress import pipelines
from progress.launch import operation_rerun
from progress.models import OperationProgress, Status
from progress.tests.factories import OperationProgressFactory, StaffFactory
from progress.tests.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/progress/operationprogress/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_page(run) -> str:
    return f"{CHANGELIST}{run.pk}/change/"


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in response.context["messages"]]


@pytest.fixture
def immediate(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# --- the list -----------------------------------------------------------------------


def test_changelist_shows_one_compact_live_progress_cell_per_run(admin_user, curator):
    run = OperationProgressFactory(
        created_by=curator,
        operation_name="curation_pipeline",
        current_item=918,
        total_items=1513,
        progress_percentage=60.7,
    )
    page = logged_in(admin_user).get(CHANGELIST).content.decode()
    assert f'<div class="run-progress" data-run-id="{run.pk}">' in page
    assert '<progress max="100" value="60"></progress>' in page
    assert '<span class="run-progress__percent">60%</span>' in page
    assert '<div class="run-progress__items">918 of 1,513</div>' in page
    assert "curation_<wbr>pipeline" in page  # a narrow column: the name may break
    # No whole run card and no second, static count that could contradict the live one.
    assert "<progress-operation" not in page and "918/1513" not in page
    assert "column-counts" not in page


def test_a_run_of_unknown_size_shows_an_indeterminate_bar_not_zero(admin_user, curator):
    OperationProgressFactory(
        created_by=curator, current_item=42, total_items=None, progress_percentage=None
    )
    page = logged_in(admin_user).get(CHANGELIST).content.decode()
    assert '<progress max="100"></progress><span class="run-progress__percent"></span>' in page
    assert '<div class="run-progress__items">42</div>' in page


def test_the_admin_loads_its_own_scoped_stylesheet_not_the_pages_global_one(admin_user, curator):
    run = OperationProgressFactory(created_by=curator)
    client = logged_in(admin_user)
    for url in (CHANGELIST, change_page(run)):
        page = client.get(url).content.decode()
        assert "progress/admin.css" in page
        assert "progress/progress.css" not in page
        assert 'type="module"' in page and "progress/element.js" in page


def test_changelist_filters_and_searches_error_text(admin_user, curator):
    OperationProgressFactory(created_by=curator, status=Status.FAILED, error_message="HGNC:abc bad")
    OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    client = logged_in(admin_user)
    assert client.get(CHANGELIST, {"q": "HGNC:abc"}).context["cl"].result_count == 1
    assert client.get(CHANGELIST, {"status__exact": "completed"}).context["cl"].result_count == 1


def test_changelist_says_completed_with_failures_and_filters_runs_with_failures(
    admin_user, curator
):
    partly = OperationProgressFactory(created_by=curator, status=Status.COMPLETED, items_failed=5)
    stalled = OperationProgressFactory(created_by=curator, status=Status.STALLED)
    OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    asked = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    asked.request_cancel()
    client = logged_in(admin_user)
    page = client.get(CHANGELIST).content.decode()
    assert (
        f'status-completed_with_failures" data-run-id="{partly.pk}">Completed with 5 failures<'
        in (page)
    )
    assert f'data-run-id="{asked.pk}">Cancelling…<' in page
    found = client.get(CHANGELIST, {"outcome": "has_failures"}).context["cl"].result_list
    assert {run.pk for run in found} == {partly.pk, stalled.pk}
    found = client.get(CHANGELIST, {"outcome": "completed_with_failures"}).context["cl"]
    assert [run.pk for run in found.result_list] == [partly.pk]
    change = client.get(change_page(asked)).content.decode()
    assert 'data-testid="cancel-run" disabled>Cancelling…<' in change


# --- a run's page -------------------------------------------------------------------


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
    page = logged_in(admin_user).get(change_page(run)).content.decode()
    assert "RuntimeError: boom" in page and "<summary>Traceback</summary>" in page
    assert "<td>7</td><td>HGNC:abc</td><td>not an HGNC id</td>" in page
    assert "stage 2 of 2: import → <strong>▶ validate</strong>" in page
    assert 'name="_save"' not in page  # read-only


def test_row_failures_link_to_the_runs_report_download_by_its_label(admin_user, curator):
    run = OperationProgressFactory(
        created_by=curator,
        status=Status.COMPLETED,
        metadata={
            "row_errors": [{"line": 7, "value": "HGNC:abc", "reason": "not an HGNC id"}],
            "row_errors_total": 300,
            "files": [
                {"name": "progress/uploads/0f3a.csv", "label": "big.csv", "kind": "upload"},
                {
                    "name": "progress/reports/77e1.csv",
                    "label": "Row errors: big.csv",
                    "kind": "report",
                },
            ],
        },
    )
    page = logged_in(admin_user).get(change_page(run)).content.decode()
    assert "1 of 300 shown; all in" in page
    assert f'<a href="/progress/{run.pk}/files/1/">Row errors: big.csv</a>' in page


def test_change_view_shows_the_live_card_and_keeps_internals_in_a_collapsed_section(
    admin_user, curator
):
    run = OperationProgressFactory(created_by=curator, seq=123456, task_result_id="task-7")
    response = logged_in(admin_user).get(change_page(run))
    page = response.content.decode()
    assert f'<progress-operation operation-id="{run.pk}"' in page
    internals = response.context["adminform"].fieldsets[-1]
    assert internals == (
        "Internals",
        {"classes": ["collapse"], "fields": ("task_result_id", "seq")},
    )
    assert page.index("<summary>") < page.index("Internals") < page.index("field-seq")


def test_an_active_runs_page_offers_cancel_and_the_live_page_but_not_rerun(admin_user, curator):
    run = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    page = logged_in(admin_user).get(change_page(run)).content.decode()
    assert f'href="/progress/{run.pk}/"' in page and "Open live page" in page
    assert f'action="{CHANGELIST}{run.pk}/cancel/"' in page
    assert "/rerun/" not in page


def test_a_finished_runs_page_offers_rerun_but_not_cancel(admin_user, curator):
    run = scores_run(curator)
    page = logged_in(admin_user).get(change_page(run)).content.decode()
    assert f'action="{CHANGELIST}{run.pk}/rerun/"' in page
    assert "/cancel/" not in page


def test_cancel_button_cancels_logs_and_returns_to_the_run(admin_user, curator):
    run = OperationProgressFactory(created_by=curator, status=Status.QUEUED)
    response = logged_in(admin_user).post(f"{CHANGELIST}{run.pk}/cancel/", follow=True)
    assert response.redirect_chain[-1][0] == change_page(run)
    assert messages_of(response) == [(constants.SUCCESS, f"Cancel requested for run #{run.pk}.")]
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert LogEntry.objects.get(object_id=str(run.pk)).change_message == "Requested cancel"


def test_cancel_button_is_post_only_and_csrf_protected(admin_user, curator):
    run = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    assert logged_in(admin_user).get(f"{CHANGELIST}{run.pk}/cancel/").status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(f"{CHANGELIST}{run.pk}/cancel/").status_code == 403
    run.refresh_from_db()
    assert run.status == Status.RUNNING


def test_cancel_button_refuses_someone_elses_run_without_the_permission(curator):
    staff = StaffFactory(username="staff-no-perms")
    staff.user_permissions.add(Permission.objects.get(codename="view_operationprogress"))
    run = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    response = logged_in(staff).post(f"{CHANGELIST}{run.pk}/cancel/", follow=True)
    assert messages_of(response) == [
        (constants.WARNING, f"Run #{run.pk} was not cancelled: not yours to cancel.")
    ]
    run.refresh_from_db()
    assert run.status == Status.RUNNING


def test_cancel_button_on_a_finished_run_warns_and_changes_nothing(admin_user, curator):
    run = OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    response = logged_in(admin_user).post(f"{CHANGELIST}{run.pk}/cancel/", follow=True)
    assert messages_of(response) == [
        (constants.WARNING, f"Run #{run.pk} was not cancelled: already completed.")
    ]


def test_buttons_on_a_missing_run_are_a_404_and_non_staff_never_reach_them(admin_user, curator):
    assert logged_in(admin_user).post(f"{CHANGELIST}999999/cancel/").status_code == 404
    assert logged_in(admin_user).post(f"{CHANGELIST}999999/rerun/").status_code == 404
    own = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    assert logged_in(curator).post(f"{CHANGELIST}{own.pk}/cancel/").status_code == 302  # login
    own.refresh_from_db()
    assert own.status == Status.RUNNING


def test_rerun_button_starts_the_run_again_and_goes_to_the_new_run(admin_user, immediate):
    ScopeFactory(name="again")
    finished = OperationProgressFactory(
        created_by=admin_user,
        operation_name="calculate_scores",
        status=Status.FAILED,
        metadata={"pipeline": "calculate_scores", "parameters": {"scope": "again"}},
    )
    response = logged_in(admin_user).post(f"{CHANGELIST}{finished.pk}/rerun/", follow=True)
    new = OperationProgress.objects.exclude(pk=finished.pk).get()
    assert response.redirect_chain[-1][0] == change_page(new)
    assert messages_of(response) == [
        (constants.SUCCESS, f"Run #{finished.pk} re-run as run #{new.pk}.")
    ]
    assert (new.status, new.metadata["parameters"]) == (Status.COMPLETED, {"scope": "again"})


# --- bulk actions: messages that count and explain ------------------------------------


def test_bulk_cancel_counts_what_it_did_and_says_why_the_rest_were_not_cancelled(
    admin_user, curator
):
    running = OperationProgressFactory(created_by=curator, status=Status.QUEUED)
    done = [OperationProgressFactory(created_by=curator, status=Status.COMPLETED) for _ in "ab"]
    response = logged_in(admin_user).post(
        CHANGELIST,
        {"action": "cancel_runs", "_selected_action": [running.pk, *(r.pk for r in done)]},
        follow=True,
    )
    assert messages_of(response) == [
        (
            constants.WARNING,
            f"Cancel requested for 1 run. 2 were not cancelled: already completed "
            f"(#{done[0].pk}, #{done[1].pk}).",
        )
    ]
    running.refresh_from_db()
    assert running.status == Status.CANCELLED
    assert LogEntry.objects.get(object_id=str(running.pk)).change_message == "Requested cancel"


def test_bulk_cancel_of_only_finished_runs_is_a_warning_not_a_green_zero(admin_user, curator):
    done = OperationProgressFactory(created_by=curator, status=Status.FAILED)
    response = logged_in(admin_user).post(
        CHANGELIST, {"action": "cancel_runs", "_selected_action": [done.pk]}, follow=True
    )
    assert messages_of(response) == [
        (
            constants.WARNING,
            f"Cancel requested for 0 runs. 1 was not cancelled: already failed (#{done.pk}).",
        )
    ]


def test_bulk_cancel_of_active_runs_only_is_a_success_in_the_plural(admin_user, curator):
    runs = [OperationProgressFactory(created_by=curator, status=Status.QUEUED) for _ in "ab"]
    response = logged_in(admin_user).post(
        CHANGELIST, {"action": "cancel_runs", "_selected_action": [r.pk for r in runs]}, follow=True
    )
    assert messages_of(response) == [(constants.SUCCESS, "Cancel requested for 2 runs.")]


def test_bulk_cancel_is_not_offered_without_the_permission(curator):
    staff = StaffFactory(username="staff-no-perms")
    staff.user_permissions.add(Permission.objects.get(codename="view_operationprogress"))
    other = OperationProgressFactory(created_by=curator, status=Status.QUEUED)
    logged_in(staff).post(CHANGELIST, {"action": "cancel_runs", "_selected_action": [other.pk]})
    other.refresh_from_db()
    assert other.status == Status.QUEUED


def test_mark_stalled_action(admin_user, curator):
    run = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    response = logged_in(admin_user).post(
        CHANGELIST, {"action": "mark_runs_stalled", "_selected_action": [run.pk]}, follow=True
    )
    run.refresh_from_db()
    assert run.status == Status.STALLED
    assert "Marked stalled by boss" in run.error_message
    assert messages_of(response) == [(constants.SUCCESS, "Marked stalled: 1 run.")]


def test_rerun_action_starts_the_same_pipeline_with_the_same_parameters(admin_user, immediate):
    ScopeFactory(name="again")
    finished = OperationProgressFactory(
        created_by=admin_user,
        operation_name="calculate_scores",
        status=Status.STALLED,
        metadata={"pipeline": "calculate_scores", "parameters": {"scope": "again"}},
    )
    response = logged_in(admin_user).post(
        CHANGELIST,
        {"action": "rerun_runs", "_selected_action": [finished.pk], "post": "yes"},
        follow=True,
    )
    rerun = OperationProgress.objects.exclude(pk=finished.pk).get()
    assert rerun.metadata["parameters"] == {"scope": "again"}
    assert rerun.status == Status.COMPLETED
    assert "Re-run as run" in LogEntry.objects.get(object_id=str(finished.pk)).change_message
    assert messages_of(response) == [
        (constants.SUCCESS, f"Re-ran 1 run (#{finished.pk} as #{rerun.pk}).")
    ]


# --- re-run: validated before anything is queued (issue 17, item 3) -------------------


def old_seeded_import(user) -> OperationProgress:
    """A gene import as seed_demo recorded it before: a server path, never an upload."""
    return OperationProgressFactory(
        created_by=user,
        operation_name="gene_import",
        status=Status.COMPLETED,
        metadata={
            "parameters": {"path": "data/kidney-panels/cegat.json", "scope": "kidney-genetics"}
        },
    )


def test_rerun_of_a_seeded_import_says_why_and_queues_nothing(admin_user, immediate):
    seeded = old_seeded_import(admin_user)
    response = logged_in(admin_user).post(
        CHANGELIST,
        {"action": "rerun_runs", "_selected_action": [seeded.pk], "post": "yes"},
        follow=True,
    )
    [(level, text)] = messages_of(response)
    assert level == constants.WARNING
    assert text.startswith("Re-ran 0 runs. 1 was not re-run: ")
    assert f"Run {seeded.pk} cannot be re-run: its uploaded file is gone" in text
    assert OperationProgress.objects.count() == 1


def test_an_import_seeded_by_seed_demo_can_be_re_run(admin_user, immediate, media, settings):
    scope = ScopeFactory(name="kidney-genetics")
    path = Path(settings.BASE_DIR) / "data/kidney-panels/cegat.json"
    seeded = seeded_import(path, scope=scope, user=admin_user, stdout=io.StringIO())
    assert (seeded.status, seeded.items_added) == (Status.COMPLETED, 288)
    response = logged_in(admin_user).post(f"{CHANGELIST}{seeded.pk}/rerun/", follow=True)
    again = OperationProgress.objects.exclude(pk=seeded.pk).get()
    assert messages_of(response) == [
        (constants.SUCCESS, f"Run #{seeded.pk} re-run as run #{again.pk}.")
    ]
    assert (again.status, again.current_item, again.items_added) == (Status.COMPLETED, 288, 0)
    assert again.metadata["files"][0]["label"] == "cegat.json"


def test_rerun_of_an_import_whose_upload_was_pruned_is_refused_on_its_page(
    admin_user, immediate, media
):
    response = APIClient()
    response.force_authenticate(admin_user)
    started = response.post(
        "/api/v1/pipelines/gene_import/start/",
        {"file": SimpleUploadedFile("genes.csv", b"hgnc_id\n9008\n")},
        format="multipart",
    )
    first = OperationProgress.objects.get(pk=started.json()["id"])
    default_storage.delete(first.metadata["parameters"]["file"])
    page = logged_in(admin_user).post(f"{CHANGELIST}{first.pk}/rerun/", follow=True)
    [(level, text)] = messages_of(page)
    assert level == constants.ERROR and "its uploaded file is gone" in text
    assert "start gene_import anew with the file" in text
    assert OperationProgress.objects.count() == 1


def test_rerun_refuses_stored_parameters_the_pipeline_does_not_take(admin_user, immediate):
    ScopeFactory(name="s")
    odd = OperationProgressFactory(
        created_by=admin_user,
        operation_name="calculate_scores",
        status=Status.COMPLETED,
        metadata={"pipeline": "calculate_scores", "parameters": {"scope": "s", "path": "x"}},
    )
    with pytest.raises(ValueError, match=r"calculate_scores does not take path"):
        operation_rerun(odd, user=admin_user)
    assert OperationProgress.objects.count() == 1


@task
def takes_no_parameters(operation_id: int) -> None:
    """A task whose serializer (below) offers a parameter it does not take."""


@task
def crashes_before_starting(operation_id: int) -> None:
    """A task that dies before its tracker starts the run."""
    raise RuntimeError("worker could not load the pipeline")


class OneParameter(serializers.Serializer):
    path = serializers.CharField()


@pytest.fixture
def broken_pipelines():
    mismatched = pipelines.Pipeline(
        name="mismatched", title="Mismatched", task=takes_no_parameters, parameters=OneParameter
    )
    crashing = pipelines.Pipeline(
        name="crashing",
        title="Crashing",
        task=crashes_before_starting,
        parameters=serializers.Serializer,
    )
    for pipeline in (mismatched, crashing):
        pipelines.register(pipeline)
    yield
    for pipeline in (mismatched, crashing):
        pipelines._registry.pop(pipeline.name)


def test_a_start_with_parameters_the_task_does_not_take_is_refused_before_a_run_exists(
    admin_user, broken_pipelines, immediate
):
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post("/api/v1/pipelines/mismatched/start/", {"path": "x"}, format="json")
    assert response.status_code == 400
    assert "unexpected keyword argument 'path'" in str(response.json())
    page = logged_in(admin_user).post(
        f"{CHANGELIST}launch/", {"pipeline": "mismatched", "path": "x"}
    )
    assert "mismatched&#x27;s task does not take these parameters" in page.content.decode()
    assert not OperationProgress.objects.exists()


def test_a_queued_run_whose_task_crashed_is_swept_to_failed(admin_user, broken_pipelines, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_local.ThreadPoolBackend"}}
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post("/api/v1/pipelines/crashing/start/", {}, format="json")
    run = OperationProgress.objects.get(pk=response.json()["id"])
    assert run.status == Status.QUEUED
    eventually(
        lambda: (
            default_task_backend.get_result(run.task_result_id).status == TaskResultStatus.FAILED
        )
    )
    call_command("mark_stalled", "--timeout", "0")
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "RuntimeError: worker could not load the pipeline" in run.error_message
    page = logged_in(admin_user).get(change_page(run)).content.decode()
    assert "Its task failed before the run started" in page


# --- launching ----------------------------------------------------------------------


def test_launch_view_starts_a_pipeline_logs_it_and_goes_to_the_new_run(admin_user, immediate):
    scope = ScopeFactory(name="launch")
    CurationFactory(scope=scope)
    client = logged_in(admin_user)
    form = client.get(f"{CHANGELIST}launch/").content.decode()
    assert "Run curation pipeline" in form and "Import genes" in form
    response = client.post(
        f"{CHANGELIST}launch/", {"pipeline": "calculate_scores", "scope": "launch"}, follow=True
    )
    run = OperationProgress.objects.get()
    assert response.redirect_chain[-1][0] == change_page(run)
    assert messages_of(response) == [
        (constants.SUCCESS, f"Started run #{run.pk} (calculate_scores).")
    ]
    assert (run.operation_name, run.status, run.current_item) == (
        "calculate_scores",
        "completed",
        1,
    )
    assert LogEntry.objects.get(object_id=str(run.pk)).change_message == "Launched calculate_scores"


def test_launch_errors_are_plain_messages_by_field_and_the_input_is_kept(admin_user, immediate):
    response = logged_in(admin_user).post(
        f"{CHANGELIST}launch/",
        {
            "pipeline": "gene_import",
            "file": SimpleUploadedFile("empty.csv", b""),
            "scope": "my-scope",
            "format": "csv",
        },
    )
    page = response.content.decode()
    assert (
        '<ul class="errorlist" id="gene_import-file-errors"><li>The submitted file is empty.'
        in (page)
    )
    assert "ErrorDetail" not in page and "{&#x27;file&#x27;" not in page
    assert 'name="scope" value="my-scope"' in page
    assert "<option selected>csv</option>" in page
    assert not OperationProgress.objects.exists()


def test_non_staff_users_get_no_admin(curator):
    assert logged_in(curator).get(CHANGELIST).status_code == 302  # to the admin login


def test_curation_admin_lists_scores_and_validity(admin_user):
    CurationFactory(classification="Moderate", total_score=8.0)
    page = logged_in(admin_user).get("/admin/curation/curation/").content.decode()
    assert "Moderate" in page and "8.0" in page


# --- issue 24, item 6: the admin's runs are the pages' runs --------------------------


def scores_run(owner, *, status=Status.COMPLETED, **fields) -> OperationProgress:
    """A finished calculate_scores run of owner's that can be re-run."""
    ScopeFactory(name="again")
    return OperationProgressFactory(
        created_by=owner,
        operation_name="calculate_scores",
        status=status,
        metadata={"pipeline": "calculate_scores", "parameters": {"scope": "again"}},
        **fields,
    )


def test_admin_search_finds_what_the_list_page_finds_by_owner_file_scope_and_id(
    admin_user, curator
):
    upload = {"name": "progress/uploads/877c.csv", "label": "big.csv", "kind": "upload"}
    mine = OperationProgressFactory(
        created_by=curator,
        operation_name="gene_import",
        status=Status.COMPLETED,
        metadata={
            "pipeline": "gene_import",
            "parameters": {"file": upload["name"], "scope": "big-synthetic"},
            "files": [upload],
        },
    )
    other = OperationProgressFactory(created_by=admin_user, status=Status.COMPLETED)
    client = logged_in(admin_user)
    for text, expected in (
        ("curator", [mine]),
        ("big.csv", [mine]),
        ("big-synthetic", [mine]),
        (f"#{other.pk}", [other]),
        (str(other.pk), [other]),
    ):
        listed = client.get(CHANGELIST, {"q": text}).context["cl"].result_list
        assert [run.pk for run in listed] == [run.pk for run in expected], text
        page = client.get("/progress/", {"q": text}).content.decode()
        assert all(f'data-testid="run-{run.pk}"' in page for run in expected), text


def test_admin_filters_runs_by_owner(admin_user, curator):
    theirs = OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    OperationProgressFactory(created_by=admin_user, status=Status.COMPLETED)
    client = logged_in(admin_user)
    page = client.get(CHANGELIST)
    assert "By owner" in page.content.decode()
    listed = client.get(CHANGELIST, {"created_by__id__exact": curator.pk}).context["cl"]
    assert [run.pk for run in listed.result_list] == [theirs.pk]


def test_bulk_rerun_asks_first_listing_the_runs_and_their_sizes(admin_user, curator, immediate):
    big = scores_run(curator, total_items=200_000, current_item=200_000)
    active = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    page = logged_in(admin_user).post(
        CHANGELIST, {"action": "rerun_runs", "_selected_action": [big.pk, active.pk]}
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="rerun-confirmation"' in text
    assert "200,000 items" in text and f"#{big.pk}" in text
    assert f"Run {active.pk} is still running; cancel it first" in text
    assert 'name="post" value="yes"' in text and "Yes, re-run 1 run" in text
    assert OperationProgress.objects.count() == 2  # nothing started before "yes"


def test_bulk_rerun_keeps_the_owner_records_who_re_ran_it_and_links_both_ways(
    admin_user, curator, immediate
):
    old = scores_run(curator)
    client = logged_in(admin_user)
    client.post(CHANGELIST, {"action": "rerun_runs", "_selected_action": [old.pk], "post": "yes"})
    new = OperationProgress.objects.exclude(pk=old.pk).get()
    assert (new.created_by, new.rerun_by, new.rerun_of) == (curator, admin_user, old)
    assert (
        f'href="{change_page(new)}" data-testid="rerun">#{new.pk}'
        in client.get(change_page(old)).content.decode()
    )
    assert f'href="{change_page(old)}" data-testid="rerun-of">#{old.pk}</a> by boss' in (
        client.get(change_page(new)).content.decode()
    )
    # The owner sees the re-run, and its run pages link both ways too.
    owner = logged_in(curator)
    assert f'href="/progress/{old.pk}/" data-testid="rerun-of">#{old.pk}</a> by boss' in (
        owner.get(f"/progress/{new.pk}/").content.decode()
    )
    assert f'href="/progress/{new.pk}/" data-testid="rerun">#{new.pk}</a>' in (
        owner.get(f"/progress/{old.pk}/").content.decode()
    )


def test_rerun_is_not_offered_on_a_run_that_cannot_be_re_run_and_the_page_says_why(admin_user):
    seeded = old_seeded_import(admin_user)
    page = logged_in(admin_user).get(change_page(seeded)).content.decode()
    assert 'data-testid="rerun-run"' not in page
    assert 'data-testid="rerun-refusal"' in page
    assert f"Run {seeded.pk} cannot be re-run: its uploaded file is gone" in page


def test_admin_times_say_their_time_zone(admin_user, curator, settings):
    run = OperationProgressFactory(
        created_by=curator, status=Status.COMPLETED, started_at=timezone.now()
    )
    client = logged_in(admin_user)
    assert " UTC</time>" in client.get(CHANGELIST).content.decode()
    assert " UTC</time>" in client.get(change_page(run)).content.decode()
