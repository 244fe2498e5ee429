"""HTTP routes of the progress app."""

from django.urls import path

from progress import views

app_name = "progress"

urlpatterns = [
    path("", views.operation_list, name="list"),
    path("<int:operation_id>/", views.operation_detail, name="detail"),
]
