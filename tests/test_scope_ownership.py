"""Issue 25, findings 2 and 8: who may use a scope, and how many scope names anyone is shown.

A non-staff user may import into and run pipelines on their own scopes only, and an import
of theirs never rewrites a gene another scope uses. Scope choices are bounded and only the
user's own; a search finds the rest.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from curation.factories import GeneFactory, ScopeFactory
from curation.management.commands import seed_demo
from curation.models import Gene, Scope, ScopeGene
from curation.scope_access import MAX_SCOPE_CHOICES
from progress.models import OperationProgress, Status
from progress.tests.factories import StaffFactory
from progress.tests.waiting import eventually, wait_for_final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_progress")]

HOSTILE_ROW = b"hgnc_id,symbol,location,alias_symbols\nHGNC:9008,NOT-PKD1,Xq99,fake\n"


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def staff_scope(transactional_db):
    """Staff's kidney-genetics scope (shared: no owner), listing PKD1."""
    scope = ScopeFactory(name="kidney-genetics")
    pkd1 = GeneFactory(hgnc_id="HGNC:9008", approved_symbol="PKD1", location="16p13.3")
    ScopeGene.objects.create(scope=scope, gene=pkd1, panels=["cegat"])
    return scope


def upload_rows(user, content, scope):
    upload = SimpleUploadedFile("genes.csv", content, "text/csv")
    response = client_for(user).post(
        "/api/v1/pipelines/gene_import/start/", {"file": upload, "scope": scope}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    return wait_for_final(response.json()["id"])


def test_a_curator_import_into_a_new_scope_never_rewrites_a_gene_staff_scope_lists(
    curator, staff_scope
):
    run = upload_rows(curator, HOSTILE_ROW, "mine")

    pkd1 = Gene.objects.get(hgnc_id="HGNC:9008")
    assert (pkd1.approved_symbol, pkd1.location, pkd1.alias_symbols) == ("PKD1", "16p13.3", [])
    assert run.status == Status.COMPLETED
    assert run.metadata["summary"]["shared_genes_kept"] == 1
    eventually(lambda: run.log_lines.filter(message__contains="ask staff to import").exists())
    mine = Scope.objects.get(name="mine")
    assert mine.owner == curator and list(mine.genes.all()) == [pkd1]


def test_a_staff_import_that_changes_a_shared_gene_counts_it_as_updated(staff_scope):
    run = upload_rows(StaffFactory(is_superuser=True), HOSTILE_ROW, "staff-new")

    pkd1 = Gene.objects.get(hgnc_id="HGNC:9008")
    assert (pkd1.approved_symbol, pkd1.alias_symbols) == ("NOT-PKD1", ["fake"])
    assert (run.items_added, run.items_updated) == (0, 1)


def test_a_curator_may_still_change_a_gene_only_their_own_scope_lists(curator):
    upload_rows(curator, b"hgnc_id,symbol\nHGNC:777,OLD\n", "mine")
    run = upload_rows(curator, b"hgnc_id,symbol\nHGNC:777,NEW\n", "mine")

    assert Gene.objects.get(hgnc_id="HGNC:777").approved_symbol == "NEW"
    assert run.items_updated == 1 and "shared_genes_kept" not in run.metadata.get("summary", {})


@pytest.mark.parametrize(
    ("pipeline", "data"),
    [
        ("curation_pipeline", {"scope": "kidney-genetics"}),
        ("calculate_scores", {"scope": "kidney-genetics"}),
        ("validate_schemas", {"scope": "kidney-genetics"}),
        ("calculate_scores", {}),  # every scope, staff's included
    ],
)
def test_a_curator_start_on_a_scope_not_theirs_is_a_403_and_starts_nothing(
    curator, staff_scope, pipeline, data
):
    response = client_for(curator).post(f"/api/v1/pipelines/{pipeline}/start/", data, format="json")

    assert response.status_code == 403, response.content
    assert "scope" in response.json()["detail"]
    assert not OperationProgress.objects.exists()


def test_a_curator_import_into_another_users_scope_is_a_403(curator, staff_scope):
    upload = SimpleUploadedFile("genes.csv", b"hgnc_id\n9008\n", "text/csv")
    response = client_for(curator).post(
        "/api/v1/pipelines/gene_import/start/",
        {"file": upload, "scope": "kidney-genetics"},
        format="multipart",
    )

    assert response.status_code == 403
    assert "may not use scope 'kidney-genetics'" in response.json()["detail"]
    assert not OperationProgress.objects.exists()


def test_the_start_page_refuses_a_scope_not_theirs_with_a_clear_message(
    client, curator, staff_scope
):
    client.force_login(curator)
    response = client.post(
        "/progress/pipelines/curation_pipeline/start/", {"scope": "kidney-genetics"}
    )

    assert response.status_code == 403
    page = response.content.decode()
    assert "Not started: You may not use scope" in page and "Choose one of your own" in page
    assert not OperationProgress.objects.exists()


def test_a_curator_runs_the_pipeline_on_their_own_scope(curator):
    # A scope without sources has nothing to import (refused); this one has a small panel.
    ScopeFactory(name="mine", owner=curator, sources=["data/kidney-panels/mvz_medicover.json"])
    response = client_for(curator).post(
        "/api/v1/pipelines/curation_pipeline/start/", {"scope": "mine"}, format="json"
    )

    assert response.status_code == 202, response.json()
    assert wait_for_final(response.json()["id"]).status == Status.COMPLETED


@pytest.fixture
def many_scopes(curator):
    """210 shared scopes and 60 of the curator's: more of each than a list may show."""
    Scope.objects.bulk_create(Scope(name=f"staff-{n:04}") for n in range(210))
    Scope.objects.bulk_create(Scope(name=f"mine-{n:04}", owner=curator) for n in range(60))


def scope_parameter(user, pipeline="curation_pipeline"):
    listed = {p["name"]: p for p in client_for(user).get("/api/v1/pipelines/").json()}
    return next(p for p in listed[pipeline]["parameters"] if p["name"] == "scope")


def test_scope_choices_are_bounded_and_only_the_users_own(curator, many_scopes):
    scope = scope_parameter(curator)

    assert len(scope["suggestions"]) == MAX_SCOPE_CHOICES
    assert all(name.startswith("mine-") for name in scope["suggestions"])
    assert scope["more_suggestions"] == 60 - MAX_SCOPE_CHOICES
    assert "choices" not in scope
    page = client_for(curator).get("/progress/").content.decode()
    assert "staff-0000" not in page and "mine-0000" in page
    assert "10 more not listed: type the name." in page
    assert 'data-search-url="/api/v1/pipelines/curation_pipeline/suggestions/?field=scope"' in page


def test_staff_see_every_scope_bounded(many_scopes):
    scope = scope_parameter(StaffFactory(is_superuser=True), "gene_import")

    assert len(scope["suggestions"]) == MAX_SCOPE_CHOICES
    assert scope["more_suggestions"] == 270 - MAX_SCOPE_CHOICES


def test_an_unknown_scope_error_names_only_a_bounded_few_of_the_users_scopes(curator, many_scopes):
    response = client_for(curator).post(
        "/api/v1/pipelines/curation_pipeline/start/", {"scope": "nope"}, format="json"
    )

    message = response.json()["scope"][0]
    assert response.status_code == 400 and "No scope 'nope'" in message
    assert "staff-" not in message and "mine-0049" in message and "mine-0050" not in message
    assert "(and 10 more; type to search)" in message


def test_search_finds_a_scope_beyond_the_limit(curator, many_scopes):
    response = client_for(curator).get(
        "/api/v1/pipelines/curation_pipeline/suggestions/", {"field": "scope", "search": "0059"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "field": "scope",
        "search": "0059",
        "values": ["mine-0059"],
        "more": 0,
    }
    staff_only = client_for(curator).get(
        "/api/v1/pipelines/curation_pipeline/suggestions/", {"field": "scope", "search": "staff"}
    )
    assert staff_only.json()["values"] == []


def test_search_of_a_parameter_without_suggestions_says_which_have_them(curator):
    response = client_for(curator).get(
        "/api/v1/pipelines/gene_import/suggestions/", {"field": "format", "search": "x"}
    )

    assert response.status_code == 400
    assert "no parameter 'format' with suggestions" in response.json()["field"]


def test_the_demo_curator_runs_the_pipeline_on_their_own_scope_and_not_on_staffs(
    tmp_path, monkeypatch, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(seed_demo, "CREDENTIALS_FILE", tmp_path / "demo-credentials.txt")
    call_command("seed_demo", stdout=io.StringIO())
    curator = get_user_model().objects.get(username="curator")

    own = client_for(curator).post(
        "/api/v1/pipelines/curation_pipeline/start/", {"scope": "curator-sandbox"}, format="json"
    )
    staffs = client_for(curator).post(
        "/api/v1/pipelines/curation_pipeline/start/", {"scope": "kidney-genetics"}, format="json"
    )

    assert own.status_code == 202, own.json()
    assert wait_for_final(own.json()["id"], timeout=60).status == Status.COMPLETED
    assert staffs.status_code == 403
    assert scope_parameter(curator)["suggestions"] == ["curator-sandbox"]
