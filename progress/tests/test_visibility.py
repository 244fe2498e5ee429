"""One visibility rule: the runs a user may see and the groups that carry them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from progress.models import OperationProgress
from progress.publish import visibility
from progress.tests.factories import OperationProgressFactory

pytestmark = pytest.mark.django_db


def test_a_user_sees_their_own_runs_and_joins_their_own_group(user, other_user):
    mine = OperationProgressFactory(created_by=user)
    OperationProgressFactory(created_by=other_user)
    assert list(OperationProgress.objects.visible_to(user)) == [mine]
    assert visibility.user_groups(user) == [f"progress.user.{user.pk}"]
    assert visibility.user_group(user.pk) in visibility.run_groups(mine.pk, user.pk)


def test_staff_see_every_run_and_join_the_all_group(staff, user, other_user):
    OperationProgressFactory(created_by=user)
    OperationProgressFactory(created_by=other_user)
    assert OperationProgress.objects.visible_to(staff).count() == 2
    assert visibility.user_groups(staff) == [visibility.ALL_GROUP]
    assert visibility.ALL_GROUP in visibility.run_groups(1, None)


def test_with_visibility_all_everyone_sees_every_run(user, other_user, settings):
    settings.PROGRESS = {"DASHBOARD_VISIBILITY": "all"}
    OperationProgressFactory(created_by=other_user)
    assert OperationProgress.objects.visible_to(user).count() == 1
    assert visibility.user_groups(user) == [visibility.ALL_GROUP]
    assert visibility.visibility_key(user) == ("all",)


def test_anonymous_users_see_nothing():
    OperationProgressFactory(created_by=None)
    assert not OperationProgress.objects.visible_to(AnonymousUser()).exists()


def test_a_single_run_page_joins_only_that_runs_group(user):
    assert visibility.user_groups(user, operation_id=12) == ["progress.op.12"]
    assert visibility.visibility_key(user, operation_id=12) == ("run", 12)


def test_users_who_see_the_same_runs_share_a_visibility_key(user, other_user, staff):
    assert visibility.visibility_key(user) != visibility.visibility_key(other_user)
    assert visibility.visibility_key(staff) == ("all",)
