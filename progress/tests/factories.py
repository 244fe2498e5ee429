"""factory_boy factories for the progress app's tests."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from progress.models import OperationProgress, Status


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class OperationProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OperationProgress

    operation_name = "gene_import"
    status = Status.RUNNING
    created_by = factory.SubFactory(UserFactory)
    total_items = 100
    current_item = 10
    seq = 5
