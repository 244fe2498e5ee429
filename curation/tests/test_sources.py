"""Scope.sources stay inside the data folder: on save, when read, in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client

from curation.gene_files import UnparseableFile
from curation.models import Scope
from curation.pipeline import _resolve, scope_pipeline
from progress.models import OperationProgress, Status
from progress.testing import flush
from progress.tests.factories import StaffFactory
from progress.tracker import track_operation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_progress")]
OUTSIDE = ["/etc/passwd", "../../../etc/passwd", "data/../../etc/passwd", "C:\\secrets.txt"]


@pytest.mark.parametrize("source", OUTSIDE)
def test_saving_a_source_outside_the_data_folder_is_refused_with_the_fix(source):
    with pytest.raises(ValidationError, match=r"inside the data folder .*CURATION_DATA_DIR"):
        Scope(name="s", sources=[source]).save()
    assert not Scope.objects.exists()


def test_sources_inside_the_data_folder_are_accepted():
    scope = Scope.objects.create(name="ok", sources=["data/kidney-panels/cegat.json"])
    assert _resolve(scope.sources[0]).name == "cegat.json"


def test_a_link_inside_the_data_folder_that_leads_out_is_refused(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    settings.CURATION_DATA_DIR = tmp_path / "data"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "leak.csv").symlink_to("/etc/passwd")
    with pytest.raises(ValidationError, match="leads outside the data folder"):
        Scope(name="s", sources=["data/leak.csv"]).full_clean()


@pytest.mark.parametrize("source", OUTSIDE)
def test_the_pipeline_refuses_a_stored_source_outside_the_data_folder(source):
    # Written around save(): rows from before the check, or raw SQL, must not leak files.
    scope = Scope.objects.create(name="old")
    Scope.objects.filter(pk=scope.pk).update(sources=[source])
    with pytest.raises(UnparseableFile, match="data folder"):
        _resolve(source)
    scope.refresh_from_db()
    with pytest.raises(UnparseableFile), track_operation("curation_pipeline") as tracker:
        scope_pipeline(scope=scope, tracker=tracker)
    flush()
    run = OperationProgress.objects.get()
    assert run.status == Status.FAILED
    assert "root:" not in str(run.metadata)  # no line of the file reached the run


def scope_editor(*, superuser=False):
    user = StaffFactory(is_superuser=superuser)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_scope", "view_scope"])
    )
    client = Client()
    client.force_login(user)
    return client


def test_only_superusers_may_edit_sources_in_the_admin():
    scope = Scope.objects.create(name="kidney", sources=["data/kidney-panels/cegat.json"])
    url = f"/admin/curation/scope/{scope.pk}/change/"
    staff = scope_editor()
    assert 'name="sources"' not in staff.get(url).content.decode()
    staff.post(url, {"name": "kidney", "title": "t", "sources": '["/etc/passwd"]'})
    scope.refresh_from_db()
    assert scope.sources == ["data/kidney-panels/cegat.json"]

    boss = scope_editor(superuser=True)
    assert 'name="sources"' in boss.get(url).content.decode()
    page = boss.post(url, {"name": "kidney", "title": "t", "sources": '["/etc/passwd"]'})
    assert "inside the data folder" in page.content.decode()
    scope.refresh_from_db()
    assert scope.sources == ["data/kidney-panels/cegat.json"]
