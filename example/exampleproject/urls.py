from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("progress/", include("progress.urls")),
    path("api/v1/", include("progress.api_urls")),
]
