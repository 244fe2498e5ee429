"""URL configuration: admin, progress pages."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from progressproject.views import runs_in_vue

urlpatterns = [
    path("", RedirectView.as_view(url="/progress/", permanent=False)),
    # Pages that link no icon (the admin) make browsers ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=static("progress/favicon.svg"), permanent=False)),
    path("admin/", admin.site.urls),
    # Before the app's routes: the demo project's Vue page (a host page, not the app's).
    path("progress/vue/", runs_in_vue, name="demo-vue"),
    path("progress/", include("progress.urls")),
    path("api/v1/", include("progress.api_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
]
