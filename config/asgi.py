"""ASGI entry point: the HTTP API (uvicorn workers; DESIGN.md §8) and the WebSocket server of
live updates (`/ws/org/{slug}/`, DESIGN.md §10), served by uvicorn on WS_PORT."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from live.consumers import OrgChangesConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/org/<str:org_slug>/", OrgChangesConsumer.as_asgi())]),
    }
)
