"""REST API: runs, cheap polling, cancel, pipelines, uploads; refusals on every path."""

from __future__ import annotations

import base64

import pytest
import requests
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from curation.factories import ScopeFactory
from progress.models import OperationProgress, Status
from progress.runtime.writer import get_writer
from progress.tests.factories import OperationProgressFactory, UserFactory
from progress.tests.waiting import wait_for_final
from progressproject.wsgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_progress")]


def client_for(user=None, *, csrf=False):
    client = APIClient(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def openapi(transactional_db):
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


def conforms(openapi, method, path, response):
    """Validate a DRF test response against the generated OpenAPI schema."""
    operation = openapi.find_operation_by_path(method, path)
    assert operation is not None, f"{method} {path} is not in the schema"
    request = requests.Request(method, f"http://localhost{path}").prepare()
    wrapped = schemathesis.Response(
        status_code=response.status_code,
        headers={key: [value] for key, value in response.headers.items()},
        content=response.content,
        request=request,
        elapsed=0.0,
        verify=True,
    )
    openapi.validate_response(operation, wrapped)


def test_anonymous_requests_are_refused():
    assert client_for().get("/api/v1/operations/").status_code == 403
    assert client_for().post("/api/v1/pipelines/calculate_scores/start/").status_code == 403


def test_list_holds_only_the_users_runs_and_staff_see_all(curator, viewer, admin_user, openapi):
    mine = OperationProgressFactory(created_by=curator)
    OperationProgressFactory(created_by=viewer)
    response = client_for(curator).get("/api/v1/operations/")
    assert [op["id"] for op in response.json()["results"]] == [mine.pk]
    conforms(openapi, "GET", "/api/v1/operations/", response)
    assert client_for(admin_user).get("/api/v1/operations/").json()["count"] == 2


def test_another_users_run_is_a_404_not_a_403(curator, viewer):
    theirs = OperationProgressFactory(created_by=viewer)
    assert client_for(curator).get(f"/api/v1/operations/{theirs.pk}/").status_code == 404
    assert client_for(curator).post(f"/api/v1/operations/{theirs.pk}/cancel/").status_code == 404


def test_list_filters_by_status_name_and_date(curator):
    OperationProgressFactory(
        created_by=curator, operation_name="gene_import", status=Status.COMPLETED
    )
    running = OperationProgressFactory(created_by=curator, operation_name="calculate_scores")
    client = client_for(curator)
    got = client.get(
        "/api/v1/operations/", {"status": "running", "name": "calculate_scores"}
    ).json()
    assert [op["id"] for op in got["results"]] == [running.pk]
    assert (
        client.get("/api/v1/operations/", {"created_after": "2999-01-01T00:00:00Z"}).json()["count"]
        == 0
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "exploded"}, "status"), ({"created_after": "yesterday"}, "created_after")],
)
def test_bad_filters_get_a_400_naming_the_parameter(curator, query, field):
    response = client_for(curator).get("/api/v1/operations/", query)
    assert response.status_code == 400
    assert field in response.json()


def test_polling_with_since_seq_or_etag_answers_304_until_the_run_changes(curator, openapi):
    run = OperationProgressFactory(created_by=curator, seq=7)
    client = client_for(curator)
    first = client.get(f"/api/v1/operations/{run.pk}/")
    conforms(openapi, "GET", f"/api/v1/operations/{run.pk}/", first)
    assert first["ETag"] == f'"op-{run.pk}-7"'
    assert client.get(f"/api/v1/operations/{run.pk}/", {"since_seq": 7}).status_code == 304
    assert (
        client.get(f"/api/v1/operations/{run.pk}/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code
        == 304
    )
    OperationProgress.objects.filter(pk=run.pk).update(seq=8)
    again = client.get(f"/api/v1/operations/{run.pk}/", {"since_seq": 7})
    assert (again.status_code, again.json()["seq"]) == (200, 8)
    assert client.get(f"/api/v1/operations/{run.pk}/", {"since_seq": "x"}).status_code == 400


def test_pipelines_list_only_what_the_user_may_start(curator, viewer, openapi):
    ScopeFactory(name="kidney-genetics", owner=curator)
    response = client_for(curator).get("/api/v1/pipelines/")
    conforms(openapi, "GET", "/api/v1/pipelines/", response)
    pipelines = {p["name"]: p for p in response.json()}
    assert set(pipelines) == {
        "curation_pipeline",
        "gene_import",
        "calculate_scores",
        "validate_schemas",
    }
    scope = pipelines["curation_pipeline"]["parameters"][0]
    assert (scope["name"], scope["type"], scope["suggestions"], scope["more_suggestions"]) == (
        "scope",
        "text",
        ["kidney-genetics"],
        0,
    )
    assert client_for(viewer).get("/api/v1/pipelines/").json() == []


def test_start_returns_202_with_the_queued_run_and_it_runs_in_the_background(curator, openapi):
    scope = ScopeFactory(name="empty", owner=curator)
    response = client_for(curator).post(
        "/api/v1/pipelines/calculate_scores/start/", {"scope": scope.name}, format="json"
    )
    assert response.status_code == 202, response.json()
    conforms(openapi, "POST", "/api/v1/pipelines/calculate_scores/start/", response)
    body = response.json()
    assert (body["status"], body["operation_name"], body["created_by"]) == (
        "queued",
        "calculate_scores",
        curator.pk,
    )
    assert body["task_result_id"]
    assert wait_for_final(body["id"]).status == Status.COMPLETED


@pytest.mark.parametrize(
    ("who", "path", "data", "status", "says"),
    [
        ("viewer", "calculate_scores", {}, 403, "progress.start_pipeline"),
        ("curator", "no_such_thing", {}, 404, "known pipelines: calculate_scores"),
        ("curator", "curation_pipeline", {}, 400, "required"),
        ("curator", "curation_pipeline", {"scope": "nope"}, 400, "No scope 'nope'"),
    ],
)
def test_refused_starts_say_why_and_start_nothing(request, who, path, data, status, says):
    user = request.getfixturevalue(who)
    response = client_for(user).post(f"/api/v1/pipelines/{path}/start/", data, format="json")
    assert response.status_code == status
    assert says in str(response.json())
    assert not OperationProgress.objects.exists()


@pytest.mark.parametrize("name", ["validate_schemas", "calculate_scores", "curation_pipeline"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"scope": "\\ud800"}', "scope"),
        ('{"scope": ["ok", {"deep": "a\\udfffb"}]}', "scope"),
        ('{"scope": "kidney", "\\udc00": 1}', "non_field_errors"),
    ],
)
def test_a_lone_surrogate_in_the_parameters_is_a_400_saying_what_to_fix(
    curator, caplog, name, body, field
):
    response = client_for(curator).post(
        f"/api/v1/pipelines/{name}/start/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    (message,) = response.json()[field]
    assert "lone UTF-16 surrogate" in message and "send the character itself" in message
    assert not OperationProgress.objects.exists()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_form_start_refuses_a_lone_surrogate_as_the_api_does(curator):
    from rest_framework.exceptions import ValidationError

    from progress.launch import pipeline_start

    with pytest.raises(ValidationError) as refused:
        pipeline_start(name="calculate_scores", data={"scope": "k\ud800"}, user=curator)
    assert "character 2 is a lone UTF-16 surrogate (U+D800)" in str(refused.value.detail)


def test_gene_upload_starts_an_import_and_counts_the_genes(curator):
    upload = SimpleUploadedFile(
        "genes.csv", b"hgnc_id,symbol\n9008,PKD1\n9009,PKD2\n,\n", "text/csv"
    )
    response = client_for(curator).post(
        "/api/v1/pipelines/gene_import/start/",
        {"file": upload, "scope": "uploads"},
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    run = wait_for_final(response.json()["id"])
    assert (run.status, run.items_added, run.items_failed) == (Status.COMPLETED, 2, 0)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"genes": [', "Invalid JSON"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"", "empty"),
    ],
)
def test_unparseable_uploads_are_refused_with_400_and_start_nothing(curator, content, says):
    upload = SimpleUploadedFile("genes.json", content, "application/json")
    response = client_for(curator).post(
        "/api/v1/pipelines/gene_import/start/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert says in str(response.json()["file"])
    assert not OperationProgress.objects.exists()


def test_oversized_upload_is_refused(curator, settings):
    settings.PROGRESS = {"MAX_UPLOAD_BYTES": 10}
    upload = SimpleUploadedFile("genes.csv", b"hgnc_id\n" + b"1\n" * 20)
    response = client_for(curator).post(
        "/api/v1/pipelines/gene_import/start/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400 and "the limit is 10" in str(response.json())
    assert not OperationProgress.objects.exists()


def test_cancel_by_owner_ends_a_queued_run_at_once(curator, openapi):
    run = OperationProgressFactory(created_by=curator, status=Status.QUEUED)
    response = client_for(curator).post(f"/api/v1/operations/{run.pk}/cancel/")
    assert response.status_code == 202
    conforms(openapi, "POST", f"/api/v1/operations/{run.pk}/cancel/", response)
    assert response.json()["status"] == "cancelled"
    assert client_for(curator).post(f"/api/v1/operations/{run.pk}/cancel/").status_code == 400


def test_staff_without_cancel_permission_cannot_cancel_others_runs(curator):
    staff_viewer = UserFactory(username="readonly-staff", is_staff=True)
    run = OperationProgressFactory(created_by=curator)
    response = client_for(staff_viewer).post(f"/api/v1/operations/{run.pk}/cancel/")
    assert response.status_code == 403
    assert "cancel_any_operation" in response.json()["detail"]


def test_session_posts_without_csrf_token_are_refused(curator):
    ScopeFactory(name="s")
    response = client_for(curator, csrf=True).post(
        "/api/v1/pipelines/calculate_scores/start/", {"scope": "s"}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not OperationProgress.objects.exists()


def test_schema_is_served(openapi):
    assert openapi.find_operation_by_path("GET", "/api/v1/operations/{id}/") is not None


def basic_auth(user) -> dict[str, str]:
    token = base64.b64encode(f"{user.username}:pw-for-tests".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.service
@pytest.mark.slow
def test_fuzzing_the_api_from_its_schema_finds_no_server_errors(curator, openapi):
    """Schemathesis: generated requests to every operation; none may answer 5xx."""
    from hypothesis import HealthCheck, settings

    ScopeFactory(name="fuzz")
    OperationProgressFactory(created_by=curator)
    headers = basic_auth(curator)
    failures = []
    for result in openapi.get_all_operations():
        operation = result.ok()

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        @given_case(operation)
        def run(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()
    get_writer().drain()
    assert failures == []


def given_case(operation):
    from hypothesis import given

    return given(operation.as_strategy())


def test_the_detail_gives_owners_messages_and_staff_tracebacks_and_paths(
    curator, admin_user, settings, openapi
):
    upload = f"{settings.MEDIA_ROOT}/uploads/abc-panel.json"
    run = OperationProgressFactory(
        created_by=curator,
        status=Status.FAILED,
        error_message=f"OSError: cannot read {upload}",
        metadata={
            "traceback": 'Traceback (most recent call last):\n  File "/srv/app/x.py"',
            "parameters": {"file": upload, "scope": "kidney"},
            "report_path": f"{settings.BASE_DIR}/var/reports/run-1.csv",
            "row_errors": [{"line": 3, "value": "HGNC:x", "reason": "not an HGNC id"}],
            "row_errors_total": 1,
        },
    )
    path = f"/api/v1/operations/{run.pk}/"
    response = client_for(curator).get(path)
    conforms(openapi, "GET", path, response)
    owner = response.json()
    assert "traceback" not in owner["metadata"]
    assert owner["metadata"]["parameters"] == {"file": "abc-panel.json", "scope": "kidney"}
    assert owner["metadata"]["report_path"] == "run-1.csv"
    assert owner["metadata"]["row_errors"] == run.metadata["row_errors"]
    assert owner["error_message"] == "OSError: cannot read …/uploads/abc-panel.json"
    assert str(settings.BASE_DIR) not in response.content.decode()
    staff = client_for(admin_user).get(path).json()
    assert (staff["metadata"], staff["error_message"]) == (run.metadata, run.error_message)


def test_the_list_carries_small_summaries_without_details(curator):
    row_errors = [{"line": i, "value": "A" * 30_000, "reason": "bad"} for i in range(7)]
    metadata = {"row_errors": row_errors, "row_errors_total": 7, "traceback": "x" * 50_000}
    OperationProgressFactory(created_by=curator, metadata=metadata)
    response = client_for(curator).get("/api/v1/operations/")
    summary = response.json()["results"][0]["metadata"]
    assert summary == {"row_errors_total": 7, "detail_keys": ["row_errors", "traceback"]}
    assert len(response.content) < 8 * 1024


# --- JSON everywhere under the prefix, whatever REST_FRAMEWORK says ------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/pipelines/bad-name/start/", "/api/v1/nothing/here/", "/api/v1/operations/1/x/"],
)
def test_a_path_under_the_api_that_matches_nothing_is_a_json_404(curator, path):
    for client in (client_for(), client_for(curator, csrf=True)):
        response = client.post(path) if "start" in path else client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()


def test_a_wrong_method_is_a_json_405(curator):
    response = client_for(curator).delete("/api/v1/pipelines/")
    assert (response.status_code, response["Content-Type"]) == (405, "application/json")


def test_a_server_error_is_a_json_500_and_logged(curator, monkeypatch, caplog):
    from progress import pipelines

    monkeypatch.setattr(pipelines, "available", lambda user=None: 1 / 0)
    response = client_for(curator).get("/api/v1/pipelines/")
    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert "ZeroDivisionError" not in response.content.decode()
    assert any(record.exc_info for record in caplog.records if record.name == "progress.api.views")


def test_a_projects_rest_framework_defaults_do_not_change_the_api(curator, settings, openapi):
    settings.REST_FRAMEWORK = {
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PAGINATION_CLASS": None,
        "DEFAULT_FILTER_BACKENDS": [],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.TemplateHTMLRenderer"],
        "DEFAULT_SCHEMA_CLASS": "rest_framework.schemas.openapi.AutoSchema",
        "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
    }
    assert client_for().get("/api/v1/operations/").status_code == 403
    OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    OperationProgressFactory(created_by=curator, status=Status.FAILED)
    page = client_for(curator).get("/api/v1/operations/?status=failed").json()
    assert (page["count"], page["results"][0]["status"]) == (1, "failed")
    assert client_for(curator).post("/api/v1/pipelines/nope/start/").status_code == 404
    schema = client_for().get("/api/v1/schema/?format=json")
    assert "/api/v1/operations/{id}/cancel/" in schema.json()["paths"]


# --- a run's files: listed in the detail, downloaded by users who may see the run ---------


@pytest.fixture
def stored_files(settings, tmp_path):
    """A run with a report and an upload in the configured storage (not 'default')."""
    from progress import files

    settings.STORAGES = {
        **settings.STORAGES,
        "runs": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    settings.PROGRESS = {"STORAGE": "runs"}
    report = files.upload_save(
        SimpleUploadedFile("r.csv", b"line,reason\n3,bad\n"), folder="progress/reports"
    )
    upload = files.upload_save(SimpleUploadedFile("p.json", b"[]"))
    return report, upload


def test_the_detail_lists_the_runs_files_and_each_downloads_with_its_label(
    curator, stored_files, openapi
):
    report, upload = stored_files
    run = OperationProgressFactory(
        created_by=curator,
        metadata={
            "files": [
                {"name": upload, "label": "panel.json", "kind": "upload"},
                {"name": report, "label": "Row errors: panel/json", "kind": "report"},
                {"name": "../../etc/passwd", "label": "x", "kind": "report"},
            ]
        },
    )
    path = f"/api/v1/operations/{run.pk}/"
    response = client_for(curator).get(path)
    conforms(openapi, "GET", path, response)
    listed = response.json()["files"]
    assert listed == [
        {"label": "panel.json", "kind": "upload", "url": f"/progress/{run.pk}/files/0/"},
        {
            "label": "Row errors: panel/json",
            "kind": "report",
            "url": f"/progress/{run.pk}/files/1/",
        },
    ]
    download = client_for(curator).get(listed[1]["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"line,reason\n3,bad\n"
    assert 'filename="Row errors: panel_json.csv"' in download["Content-Disposition"]
    assert download["Content-Disposition"].startswith("attachment")
    report_page = client_for(curator).get(f"/progress/{run.pk}/report/")
    assert b"".join(report_page.streaming_content) == b"line,reason\n3,bad\n"


def test_files_of_someone_elses_run_or_gone_files_are_a_404(curator, viewer, stored_files):
    from progress import files

    report, _ = stored_files
    run = OperationProgressFactory(
        created_by=curator, metadata={"files": [{"name": report, "label": "r", "kind": "report"}]}
    )
    assert client_for(viewer).get(f"/progress/{run.pk}/files/0/").status_code == 404
    assert client_for(viewer).get(f"/progress/{run.pk}/report/").status_code == 404
    assert client_for(curator).get(f"/progress/{run.pk}/files/1/").status_code == 404
    assert client_for().get(f"/progress/{run.pk}/files/0/").status_code == 302  # to login
    files.storage().delete(report)
    assert client_for(curator).get(f"/progress/{run.pk}/files/0/").status_code == 404


def test_a_body_over_djangos_memory_limit_is_a_json_413_not_a_500(curator, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100  # Django's limit for a form's non-file fields
    response = client_for(curator).post(
        "/api/v1/pipelines/calculate_scores/start/", {"scope": "x" * 500}, format="multipart"
    )
    assert (response.status_code, response["Content-Type"]) == (413, "application/json")
    assert not OperationProgress.objects.exists()


def test_list_filters_by_outcome_and_failures(curator, openapi):
    clean = OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    partly = OperationProgressFactory(created_by=curator, status=Status.COMPLETED, items_failed=5)
    stalled = OperationProgressFactory(created_by=curator, status=Status.STALLED)
    client = client_for(curator)

    def ids(query):
        response = client.get("/api/v1/operations/", query)
        conforms(openapi, "GET", "/api/v1/operations/", response)
        return {op["id"]: op["outcome"] for op in response.json()["results"]}

    assert ids({"outcome": "completed_with_failures"}) == {partly.pk: "completed_with_failures"}
    assert ids({"outcome": ["completed", "stalled"]}) == {
        clean.pk: "completed",
        stalled.pk: "stalled",
    }
    assert set(ids({"has_failures": "true"})) == {partly.pk, stalled.pk}
    assert set(ids({"has_failures": "false"})) == {clean.pk}
    assert client.get("/api/v1/operations/", {"outcome": "fine"}).status_code == 400


def test_a_cancel_after_the_run_ended_says_it_finished_first(curator, openapi):
    run = OperationProgressFactory(created_by=curator, status=Status.COMPLETED, items_failed=2)
    response = client_for(curator).post(f"/api/v1/operations/{run.pk}/cancel/")
    assert response.status_code == 400
    assert response.json()["status"] == (
        f"Finished before your cancel arrived: run {run.pk} had already ended "
        "(completed with 2 failures); nothing was cancelled."
    )


def test_a_cancel_of_a_running_run_answers_cancelling(curator, openapi):
    run = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    response = client_for(curator).post(f"/api/v1/operations/{run.pk}/cancel/")
    assert response.status_code == 202
    conforms(openapi, "POST", f"/api/v1/operations/{run.pk}/cancel/", response)
    assert (response.json()["status"], response.json()["cancel_requested"]) == ("running", True)


def test_the_detail_links_the_runs_logs_page_and_re_runs_both_ways(
    curator, admin_user, openapi, settings
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    from progress.launch import operation_rerun

    ScopeFactory(name="again")
    old = OperationProgressFactory(
        created_by=curator,
        operation_name="calculate_scores",
        status=Status.COMPLETED,
        metadata={"pipeline": "calculate_scores", "parameters": {"scope": "again"}},
    )
    new = operation_rerun(old, user=admin_user)
    path = f"/api/v1/operations/{old.pk}/"
    response = client_for(curator).get(path)
    conforms(openapi, "GET", path, response)
    body = response.json()
    assert body["reruns"] == [new.pk] and body["rerun_of"] is None
    assert body["links"] == {
        "logs": f"/api/v1/operations/{old.pk}/logs/",
        "logs_text": f"/api/v1/operations/{old.pk}/logs.txt",
        "page": f"/progress/{old.pk}/",
        "rerun_of": None,
        "reruns": [f"/api/v1/operations/{new.pk}/"],
    }
    again = client_for(curator).get(f"/api/v1/operations/{new.pk}/").json()
    assert (again["created_by"], again["rerun_by"], again["rerun_of"]) == (
        curator.pk,
        admin_user.username,  # a name: the owner has no use for another user's row id
        old.pk,
    )
    assert again["links"]["rerun_of"] == path
    assert client_for(curator).get(body["links"]["logs"]).status_code == 200


def test_the_owner_never_sees_an_uploads_storage_name(curator, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    started = client_for(curator).post(
        "/api/v1/pipelines/gene_import/start/",
        {"file": SimpleUploadedFile("big.csv", b"hgnc_id\n9008\n")},
        format="multipart",
    )
    stored = OperationProgress.objects.get(pk=started.json()["id"]).metadata["parameters"]["file"]
    for path in (f"/api/v1/operations/{started.json()['id']}/", "/api/v1/operations/"):
        text = client_for(curator).get(path).content.decode()
        assert stored not in text, path
