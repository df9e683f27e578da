"""The channel layer's entry in `/health` (core.health): the Redis the rooms travel through."""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings


def channel_layer_check() -> dict[str, Any]:
    layer = settings.CHANNEL_LAYERS["default"]
    (host,) = layer["CONFIG"]["hosts"][:1]
    client = redis.Redis.from_url(host, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        client.ping()
    finally:
        client.close()
    return {"backend": layer["BACKEND"].rsplit(".", 1)[-1]}
