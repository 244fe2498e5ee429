"""OpenAPI annotations that need no REST_FRAMEWORK setting.

drf-spectacular's extend_schema() builds on DEFAULT_SCHEMA_CLASS, which is DRF's own
AutoSchema unless a project sets it; the annotated operations then break the schema. This
extend_schema() builds on drf-spectacular's AutoSchema whatever the project's settings say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular import utils
from drf_spectacular.openapi import AutoSchema


def extend_schema[F: Callable[..., Any]](**kwargs: Any) -> Callable[[F], F]:
    """drf_spectacular.utils.extend_schema() for a view method, on drf-spectacular's AutoSchema."""

    def decorator(function: F) -> F:
        function.schema = AutoSchema  # type: ignore[attr-defined]  # extend_schema's base
        return utils.extend_schema(**kwargs)(function)

    return decorator
