from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from progress.tests.conftest import fast_progress, in_memory_layer  # noqa: F401
from progress.tests.factories import StaffFactory, UserFactory


@pytest.fixture
def curator(transactional_db):
    """A non-staff user who may start pipelines."""
    user = UserFactory(username="curator")
    user.user_permissions.add(Permission.objects.get(codename="start_pipeline"))
    return user


@pytest.fixture
def viewer(transactional_db):
    """A logged-in user without the start permission."""
    return UserFactory(username="viewer")


@pytest.fixture
def admin_user(transactional_db):
    user = StaffFactory(username="boss", is_superuser=True)
    return user
