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


def test_a_cancel_after_the_run_ended_says_it_finished_first(curator):
    run = OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    response = logged_in(curator).post(f"/progress/{run.pk}/cancel/", follow=True)
    text = response.content.decode()
    assert f"Finished before your cancel arrived: run {run.pk} had already ended" in text
    assert "Cancel requested" not in text


def test_a_run_asked_to_stop_reads_cancelling_and_one_that_finished_first_says_so(curator):
    run = OperationProgressFactory(created_by=curator, status=Status.RUNNING)
    client = logged_in(curator)
    response = client.post(f"/progress/{run.pk}/cancel/", follow=True)
    text = response.content.decode()
    assert 'data-part="status">Cancelling…<' in text and "Cancel requested" not in text
    OperationProgress.objects.filter(pk=run.pk).update(status=Status.COMPLETED, items_failed=3)
    text = client.get(f"/progress/{run.pk}/").content.decode()
    assert 'data-part="status">Completed with 3 failures<' in text
    assert "Finished before your cancel arrived" in text


def test_the_list_filters_runs_with_failures(curator):
    partly = OperationProgressFactory(created_by=curator, status=Status.COMPLETED, items_failed=1)
    stalled = OperationProgressFactory(created_by=curator, status=Status.STALLED)
    clean = OperationProgressFactory(created_by=curator, status=Status.COMPLETED)
    page = logged_in(curator).get("/progress/", {"failures": "1"})
    ids = {op["id"] for op in page.context["initial"]}
    assert ids == {partly.pk, stalled.pk} and clean.pk not in ids
    assert page.context["filters"].failures


def test_starting_from_the_page_redirects_to_the_new_run(curator, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    ScopeFactory(name="page", owner=curator)
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
        "hgnc_id,approved_symbol,location,chromosome,previous_symbols,alias_symbols,line,error",
        "HGNC:abc,X,,,,,3,'HGNC:abc' is not an HGNC id; write HGNC:<digits> (e.g. HGNC:42) or "
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


# --- the list page: paging, search, descriptions, start forms (issue 17) ---------------

IMPORT_METADATA = {
    "pipeline": "gene_import",
    "parameters": {"file": "uploads/9f2c1a.csv", "scope": "big-synthetic", "format": "auto"},
    "files": [{"name": "uploads/9f2c1a.csv", "label": "big.csv", "kind": "upload"}],
}


def finished_runs(user, count, **kwargs):
    return [
        OperationProgressFactory(created_by=user, status=Status.COMPLETED, **kwargs)
        for _ in range(count)
    ]


def shown_ids(response) -> list[int]:
    return [row["data"]["id"] for row in response.context["finished_rows"]]


def test_the_list_pages_through_every_finished_run_older_then_newer(curator):
    runs = finished_runs(curator, 45)
    newest_first = [run.pk for run in reversed(runs)]
    client = logged_in(curator)
    first = client.get("/progress/")
    assert shown_ids(first) == newest_first[:20]
    assert first.context["page"].newer is None
    second = client.get("/progress/" + first.context["page"].older)
    assert shown_ids(second) == newest_first[20:40]
    third = client.get("/progress/" + second.context["page"].older)
    assert shown_ids(third) == newest_first[40:]
    assert third.context["page"].older is None
    back = client.get("/progress/" + third.context["page"].newer)
    assert shown_ids(back) == newest_first[20:40]
    assert back.context["page"].newer == ""  # the first page


def test_older_pages_keep_the_search_and_work_without_javascript(curator):
    finished_runs(curator, 25, metadata=IMPORT_METADATA)
    finished_runs(curator, 5, operation_name="validate_schemas")
    page = logged_in(curator).get("/progress/?q=big.csv")
    older = page.context["page"].older
    assert older.startswith("?q=big.csv&before=")
    assert f'href="/progress/{older.replace("&", "&amp;")}"' in page.content.decode()
    assert len(logged_in(curator).get("/progress/" + older).context["finished_rows"]) == 5


@pytest.mark.parametrize(
    ("search", "matches"),
    [
        ("big.csv", {"import"}),
        ("BIG-SYNTHETIC", {"import"}),
        ("kidney", {"pipeline"}),
        ("curator", {"import", "pipeline"}),
        ("viewer", {"scores"}),
        ("import genes", {"import"}),  # the pipeline's title
        ("big.csv curator", {"import"}),  # every word must match
        ("big.csv → big-synthetic", {"import"}),  # pasted from a description
        ("uploads", set()),  # storage names are not the user's words
    ],
)
def test_search_matches_the_runs_file_scope_owner_and_title(
    admin_user, curator, viewer, search, matches
):
    runs = {
        "import": OperationProgressFactory(
            created_by=curator, status=Status.COMPLETED, metadata=IMPORT_METADATA
        ),
        "pipeline": OperationProgressFactory(
            created_by=curator,
            operation_name="curation_pipeline",
            metadata={"pipeline": "curation_pipeline", "parameters": {"scope": "kidney"}},
        ),
        "scores": OperationProgressFactory(created_by=viewer, operation_name="calculate_scores"),
    }
    page = logged_in(admin_user).get("/progress/", {"q": search})
    found = {
        row["data"]["id"] for row in [*page.context["active_rows"], *page.context["finished_rows"]]
    }
    assert found == {runs[name].pk for name in matches}


def test_a_run_number_finds_that_run(curator):
    wanted, _other = finished_runs(curator, 2)
    page = logged_in(curator).get("/progress/", {"q": f"#{wanted.pk}"})
    assert shown_ids(page) == [wanted.pk]


def test_each_row_describes_its_run_and_its_link_says_which_run_it_is(curator):
    run = OperationProgressFactory(
        created_by=curator, status=Status.COMPLETED, metadata=IMPORT_METADATA
    )
    pipeline_run = OperationProgressFactory(
        created_by=curator,
        operation_name="curation_pipeline",
        metadata={"pipeline": "curation_pipeline", "parameters": {"scope": "kidney"}},
    )
    html = logged_in(curator).get("/progress/").content.decode()
    assert "Import genes — big.csv → big-synthetic, by curator" in html
    assert f'aria-label="Import genes #{run.pk} — big.csv → big-synthetic, by curator"' in html
    label = f"Run curation pipeline #{pipeline_run.pk} — kidney, by curator"
    assert f'aria-label="{label}"' in html


def test_descriptions_are_built_from_what_the_run_was_asked_to_do():
    from progress.web.listing import describe

    assert describe(name="validate_schemas", parameters={}, labels=[]) == "Validate schemas"
    assert (
        describe(
            name="gene_import",
            parameters={"file": "uploads/x.csv", "scope": "default", "format": "csv"},
            labels=["a.tsv"],
            owner="ann",
        )
        == "Import genes — a.tsv → default, csv, by ann"
    )
    assert describe(name="nightly_sync", parameters=None, labels=[]) == "Nightly sync"


def test_the_list_shows_usual_durations_and_flags_a_much_slower_run(curator):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for minutes in (1, 2, 3):
        OperationProgressFactory(
            created_by=curator,
            status=Status.COMPLETED,
            started_at=now - timedelta(hours=1),
            completed_at=now - timedelta(hours=1) + timedelta(minutes=minutes),
            current_item=120 * 60,  # 60 items/s in the 2-minute (median) run
        )
    # Slowness is by rate: the slow run is young, the quick one older than usual but as fast.
    slow = OperationProgressFactory(
        created_by=curator, started_at=now - timedelta(minutes=1), rate=29.0
    )
    quick = OperationProgressFactory(
        created_by=curator, started_at=now - timedelta(minutes=5), rate=60.0
    )
    page = logged_in(curator).get("/progress/")
    rows = {row["data"]["id"]: row for row in page.context["active_rows"]}
    assert (rows[slow.pk]["slow"], rows[quick.pk]["slow"]) == (True, False)
    assert rows[slow.pk]["typical_text"] == "2 min"
    html = page.content.decode()
    assert "Slower than usual" in html
    assert page.context["list_config"]["typical"] == {"gene_import": 120.0}
    assert page.context["list_config"]["typicalRates"] == {"gene_import": 60.0}


def test_start_forms_post_to_their_own_page_and_name_things_plainly(curator):
    ScopeFactory(name="kidney", owner=curator)
    ScopeFactory(name="heart", owner=curator)
    html = logged_in(curator).get("/progress/").content.decode()
    assert 'action="/progress/pipelines/gene_import/start/"' in html
    assert 'action=""' not in html
    assert ">Run curation pipeline</button>" in html and "Start Run" not in html
    assert 'name="scope" type="text" value="" placeholder="All scopes"' in html  # optional
    assert 'id="start-curation_pipeline-scope" name="scope" type="text" value="" required' in html
    assert '<datalist id="start-curation_pipeline-scope-suggestions">' in html
    assert '<datalist id="start-gene_import-scope-suggestions">' in html
    assert '<option value="heart"></option><option value="kidney"></option>' in html


def test_run_again_links_open_the_start_form_with_the_runs_settings(curator):
    ScopeFactory(name="kidney")
    link = "/progress/?start=gene_import&scope=kidney&format=csv&file=/etc/passwd"
    html = logged_in(curator).get(link).content.decode()
    form = html[html.index('id="start-gene_import"') :]
    form = form[: form.index("</details>")]
    assert "data-pipeline-details open" in html[html.index('id="start-gene_import"') - 80 :]
    assert 'value="kidney"' in form and '<option value="csv" selected>' in form
    assert "/etc/passwd" not in html  # a file never comes from a link
    assert 'data-testid="start-refused"' not in html and 'aria-invalid="true"' not in form


def test_a_refused_start_without_javascript_keeps_the_input_beside_its_errors(curator):
    response = logged_in(curator).post(
        "/progress/pipelines/gene_import/start/", {"scope": "Big Synthetic!", "format": "csv"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="Big Synthetic!"' in html
    assert '<option value="csv" selected>' in html
    assert (
        'aria-describedby="start-gene_import-scope-help start-gene_import-scope-error" '
        'aria-invalid="true">' in html
    )
    assert 'type="file" required aria-describedby="start-gene_import-file-help ' in html
    assert 'aria-invalid="true" autofocus>' in html  # the first field with an error
    assert "Use only letters, digits, hyphens and underscores" in html
    assert "Choose the file again" in html
    assert not OperationProgress.objects.exists()


def test_a_start_from_the_pages_script_answers_json(curator, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    ScopeFactory(name="page", owner=curator)
    client = logged_in(curator)
    json_headers = {"Accept": "application/json"}
    refused = client.post(
        "/progress/pipelines/validate_schemas/start/", {"scope": "nope"}, headers=json_headers
    )
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == ["scope"]
    started = client.post(
        "/progress/pipelines/validate_schemas/start/", {"scope": "page"}, headers=json_headers
    )
    run = OperationProgress.objects.get()
    assert started.status_code == 201
    assert started.json() == {"id": run.pk, "url": f"/progress/{run.pk}/"}


def test_someone_elses_run_is_a_plain_not_found_page_even_with_debug(curator, viewer, settings):
    settings.DEBUG = True
    theirs = OperationProgressFactory(created_by=viewer)
    for pk in (theirs.pk, theirs.pk + 1000):
        response = logged_in(curator).get(f"/progress/{pk}/")
        assert response.status_code == 404
        html = response.content.decode()
        assert "Run not found" in html and "URLconf" not in html


def test_the_list_as_json_describes_a_run_by_its_number(curator, viewer):
    run = OperationProgressFactory(created_by=curator, metadata=IMPORT_METADATA)
    theirs = OperationProgressFactory(created_by=viewer)
    json_headers = {"Accept": "application/json"}
    page = logged_in(curator).get("/progress/", {"q": f"#{run.pk}"}, headers=json_headers)
    assert page.json()["runs"] == [
        {
            "id": run.pk,
            "status": "running",
            "description": "Import genes — big.csv → big-synthetic, by curator",
        }
    ]
    hidden = logged_in(curator).get("/progress/", {"q": f"#{theirs.pk}"}, headers=json_headers)
    assert hidden.json()["runs"] == []


def test_an_oversized_upload_is_refused_beside_the_file_field_unread(curator, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.PROGRESS = {"MAX_UPLOAD_BYTES": 1000}
    big = SimpleUploadedFile("big.csv", b"hgnc_id\n" + b"9008\n" * 20_000)
    response = logged_in(curator).post(
        "/progress/pipelines/gene_import/start/", {"file": big, "scope": "kept"}
    )
    assert response.status_code == 413
    form = next(p for p in response.context["pipelines"] if p["name"] == "gene_import")
    assert form["open"] is True
    file = next(p for p in form["parameters"] if p["name"] == "file")
    assert "uploads are limited to 1000 bytes" in file["errors"][0]
    assert not OperationProgress.objects.exists()


def test_the_vue_page_says_what_each_run_read_and_where_to(curator):
    upload = {"name": "progress/uploads/877c.csv", "label": "big.csv", "kind": "upload"}
    run = OperationProgressFactory(
        created_by=curator,
        operation_name="gene_import",
        status=Status.COMPLETED,
        metadata={"parameters": {"file": upload["name"], "scope": "kidney"}, "files": [upload]},
    )
    page = logged_in(curator).get("/progress/vue/")
    assert page.context["descriptions"] == {run.pk: "big.csv → kidney"}
    assert "vue-descriptions" in page.content.decode()


# --- "Run again with the same file" (issue 24) ---------------------------------------------


@pytest.fixture
def uploaded_run(settings, curator):
    """A finished gene import of curator's whose upload is in the (in-memory) run storage."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from progress import files

    settings.STORAGES = {
        **settings.STORAGES,
        "runs": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    settings.PROGRESS = {"STORAGE": "runs"}
    name = files.upload_save(SimpleUploadedFile("panel.csv", b"hgnc_id\n1100\n"))
    return OperationProgressFactory(
        created_by=curator,
        operation_name="gene_import",
        status=Status.COMPLETED,
        metadata={
            "pipeline": "gene_import",
            "parameters": {"file": name, "scope": "kidney", "format": "auto"},
            "files": [{"name": name, "label": "panel.csv", "kind": "upload"}],
        },
    )


def test_the_owner_of_a_run_with_a_stored_upload_is_offered_to_run_it_again(uploaded_run, curator):
    page = logged_in(curator).get(f"/progress/{uploaded_run.pk}/")
    assert page.context["rerun_url"] == f"/progress/{uploaded_run.pk}/rerun/"
    assert "Run again with the same file" in page.content.decode()


def test_a_run_whose_upload_was_pruned_offers_no_rerun_and_a_late_click_says_why(
    uploaded_run, curator
):
    from progress import files

    files.storage().delete(uploaded_run.metadata["parameters"]["file"])
    client = logged_in(curator)
    assert client.get(f"/progress/{uploaded_run.pk}/").context["rerun_url"] == ""
    response = client.post(f"/progress/{uploaded_run.pk}/rerun/", follow=True)
    assert response.redirect_chain == [(f"/progress/{uploaded_run.pk}/", 302)]
    assert "its uploaded file is gone (pruned or never stored)" in response.content.decode()
    assert OperationProgress.objects.count() == 1


def test_only_the_owner_may_rerun_a_run_with_its_file(uploaded_run, viewer, admin_user):
    assert logged_in(viewer).post(f"/progress/{uploaded_run.pk}/rerun/").status_code == 404
    staff = logged_in(admin_user)
    assert staff.get(f"/progress/{uploaded_run.pk}/").context["rerun_url"] == ""
    assert staff.post(f"/progress/{uploaded_run.pk}/rerun/").status_code == 403
    assert OperationProgress.objects.count() == 1


def test_rerun_needs_a_csrf_token_and_a_get_starts_nothing(uploaded_run, curator):
    client = logged_in(curator, enforce_csrf_checks=True)
    assert client.post(f"/progress/{uploaded_run.pk}/rerun/").status_code == 403
    response = client.get(f"/progress/{uploaded_run.pk}/rerun/")
    assert response.status_code == 302 and response["Location"] == f"/progress/{uploaded_run.pk}/"
    assert OperationProgress.objects.count() == 1


def test_running_again_past_the_owners_storage_quota_says_why_instead_of_failing(
    uploaded_run, curator, settings
):
    settings.PROGRESS = {**settings.PROGRESS, "MAX_STORED_BYTES_PER_USER": 1}
    response = logged_in(curator).post(f"/progress/{uploaded_run.pk}/rerun/", follow=True)
    assert response.redirect_chain == [(f"/progress/{uploaded_run.pk}/", 302)]
    assert "MAX_STORED_BYTES_PER_USER" in response.content.decode()
    assert OperationProgress.objects.count() == 1
