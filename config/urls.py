from django.contrib import admin
from django.urls import path

from config import health
from config.api import api

urlpatterns = [
    path("api/", api.urls),
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("admin/", admin.site.urls),
]
