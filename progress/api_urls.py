"""/api/v1/ routes."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from progress.api import OperationViewSet, PipelineViewSet

router = DefaultRouter()
router.register("operations", OperationViewSet, basename="operation")
router.register("pipelines", PipelineViewSet, basename="pipeline")

urlpatterns = [
    path("", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
