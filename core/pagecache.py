"""Cached, ETag-validated responses for page-shaped reads and dashboards (DESIGN.md §5).

The key holds the org id (as the org's Redis Cluster hash tag, core.keyslots), the org data
version, the page name, the audience (who the answer is for: a role where everyone with it
sees the same, a member id where visibility differs) and the parameters. Any committed write
bumps the version, so the next read misses: a page is never older than the last successful
write. The ETag is derived from the same key, so a client's `If-None-Match` is answered 304
from the version that tenant resolution already fetched — no SQL and no further Redis call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

from core.api import json_bytes
from core.keyslots import org_tag
from core.replica import replica_build

PAGE_TTL = 60


def page_key(*, org_id: int, version: int, name: str, audience: str, params: dict) -> str:
    encoded = json.dumps(params, sort_keys=True, cls=DjangoJSONEncoder)
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:24]
    return f"page:{org_tag(org_id)}:{version}:{name}:{audience}:{digest}"


def _etag(key: str) -> str:
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


def _matches(request: HttpRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _json_response(body: bytes, etag: str | None) -> HttpResponse:
    response = HttpResponse(body, content_type="application/json")
    if etag:
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
    return response


def cached_page(
    *,
    request: HttpRequest,
    org_id: int,
    version: int | None,
    name: str,
    audience: str,
    params: dict[str, Any],
    build: Callable[[], Any],
    replica_caught_up: Callable[[], bool] | None = None,
) -> HttpResponse:
    """The page `build()` makes, from the cache while the org's data `version` (from tenant
    resolution) has not moved. With a read replica, built there when `replica_caught_up()`
    says it has replayed the writes `version` stands for, else on the primary (core.replica):
    what is cached under the key is never older than the key."""
    if version is None:  # Redis unreachable: serve fresh from PostgreSQL, promise nothing
        return _json_response(json_bytes(build()), None)
    key = page_key(org_id=org_id, version=version, name=name, audience=audience, params=params)
    etag = _etag(key)
    if _matches(request, etag):
        not_modified = HttpResponseNotModified()
        not_modified["ETag"] = etag
        return not_modified
    body = cache.get(key)
    if body is None:
        page = replica_build(build, caught_up=replica_caught_up)
        body = json_bytes(page)
        cache.set(key, body, PAGE_TTL)
    return _json_response(body, etag)
