"""/api/v1/ routes. Every path under the prefix answers JSON, an unknown one a JSON 404."""

from typing import Any

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework import routers
from rest_framework.permissions import AllowAny

from progress.api.views import (
    OperationViewSet,
    PipelineViewSet,
    ProgressAPIView,
    api_not_found,
    exception_handler,
)

__all__ = ["urlpatterns"]


class APIRootView(ProgressAPIView, routers.APIRootView):
    """The API's root: links to its lists."""

    schema = None  # not an operation of the schema, as in DRF


class Router(routers.DefaultRouter):
    APIRootView = APIRootView


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema of this API, open to everyone (drf-spectacular's default)."""

    authentication_classes = ProgressAPIView.authentication_classes
    permission_classes = [AllowAny]
    schema = None  # not one of its own operations
    custom_settings = {
        "TITLE": "Progress API",
        "DESCRIPTION": "Launch pipelines and follow their runs. Live updates: ws/progress/.",
        "VERSION": "1.0.0",
        "COMPONENT_SPLIT_REQUEST": True,
    }

    def get_exception_handler(self) -> Any:
        return exception_handler


router = Router()
router.register("operations", OperationViewSet, basename="operation")
router.register("pipelines", PipelineViewSet, basename="pipeline")

urlpatterns = [
    path("", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="progress-api-schema"),
    re_path(r"^(?P<path>.*)$", api_not_found),
]
