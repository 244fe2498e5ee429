"""HTTP routes of the progress pages."""

from django.urls import path

from progress.web import downloads
from progress.web import pages as views

__all__ = ["app_name", "urlpatterns"]

app_name = "progress"

urlpatterns = [
    path("", views.operation_list, name="list"),
    path("<int:operation_id>/", views.operation_detail, name="detail"),
    path("<int:operation_id>/cancel/", views.operation_cancel_view, name="cancel"),
    path("<int:operation_id>/rerun/", views.operation_rerun_view, name="rerun"),
    path("<int:operation_id>/report/", downloads.run_report, name="report"),
    path("<int:operation_id>/files/<int:index>/", downloads.run_file, name="file"),
    path("pipelines/<slug:name>/start/", views.pipeline_start_view, name="start"),
]
