from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.api import api
from core import health
from perf.views import metrics

urlpatterns = [
    path("api/", api.urls),
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

if settings.SILK_ENABLED:
    urlpatterns.append(path("silk/", include("silk.urls", namespace="silk")))
