from django.urls import include, path

urlpatterns = [
    path("progress/", include("progress.urls")),
    path("api/v1/", include("progress.api_urls")),
]
