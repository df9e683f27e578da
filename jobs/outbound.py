"""Outbound HTTP for webhooks, safe against SSRF (DESIGN.md §11).

A URL is accepted when it is `https://` and every address its host resolves to is public: not
private, loopback, link-local, shared, reserved, multicast or unspecified. Loopback (and then
`http://` too) only with WEBHOOKS_ALLOW_LOOPBACK (development and tests). The check runs when
the webhook is created and again at every connection: the request goes to the very address that
was just checked (the name is resolved once, and the socket connects to that address; TLS still
verifies the certificate for the host name), so a name that starts resolving to 127.0.0.1 or
10.0.0.1 after creation (DNS rebinding) is refused too. Redirects are never followed: a 3xx is
an answer that is not 2xx (so a redirect to a private address goes nowhere). Each attempt has a
hard deadline (WEBHOOKS_TIMEOUT_SECONDS, 5 s) for connecting, sending and the answer.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

NOT_HTTPS = "The URL must start with https://."
NO_HOST = "The URL must name a host."
CREDENTIALS = "The URL must not carry a user name or password."
BAD_PORT = "The URL's port is not valid."
UNRESOLVED = "The URL's host name does not resolve."
NOT_PUBLIC = "The URL's host resolves to a private, loopback or link-local address."
# Every message a refused URL gets (a 422 at ["body", "url"]).
URL_REFUSALS = (NOT_HTTPS, NO_HOST, CREDENTIALS, BAD_PORT, UNRESOLVED, NOT_PUBLIC)
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "Cadence-Webhooks/1"


class UrlRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return loopback
    return address.is_global and not address.is_multicast


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(UNRESOLVED) from exc
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UrlRefused(UNRESOLVED)
    return addresses


def url_check(url: str) -> Target:
    """The URL's target, its host resolved now; raises UrlRefused with the reason."""
    loopback_allowed = settings.WEBHOOKS_ALLOW_LOOPBACK
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(BAD_PORT) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not loopback_allowed):
        raise UrlRefused(NOT_HTTPS)
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(CREDENTIALS)
    host = parts.hostname
    if not host:
        raise UrlRefused(NO_HOST)
    port = port or (443 if scheme == "https" else 80)
    addresses = _resolve(host, port)
    parsed = [ipaddress.ip_address(address.split("%", 1)[0]) for address in addresses]
    if not all(_allowed(address, loopback_allowed) for address in parsed):
        raise UrlRefused(NOT_PUBLIC)
    if scheme == "http" and not all(address.is_loopback for address in parsed):
        raise UrlRefused(NOT_HTTPS)  # plain http only to this machine
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to `address` (already checked) while speaking to `host` (Host header, SNI and
    certificate check)."""

    def __init__(self, target: Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address
        self._tls = ssl.create_default_context() if target.scheme == "https" else None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str  # "" on an answer (whatever its status)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POSTs `body` to `url` after checking the URL again; never raises for the network."""
    timeout = settings.WEBHOOKS_TIMEOUT_SECONDS
    try:
        target = url_check(url)
    except UrlRefused as refused:
        return Outcome(None, f"refused: {refused.message}")
    deadline = time.monotonic() + timeout
    last_error = "no address"
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Outcome(None, "timeout")
        connection = _PinnedConnection(target, address, timeout=remaining)
        # The hard deadline: whatever the peer does (a slow trickle of bytes), the socket is
        # shut when the time is up and the blocked read returns.
        watchdog = threading.Timer(remaining, _shut, args=(connection,))
        watchdog.start()
        try:
            connection.request(
                "POST",
                target.path,
                body=body,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    "Connection": "close",
                },
            )
            response = connection.getresponse()
            response.read(MAX_ANSWER_BYTES)
            return Outcome(response.status, "")
        except (OSError, http.client.HTTPException) as exc:
            timed_out = time.monotonic() >= deadline or isinstance(exc, TimeoutError)
            last_error = "timeout" if timed_out else f"{type(exc).__name__}: {exc}"[:200]
            if timed_out:
                break
        finally:
            watchdog.cancel()
            connection.close()
    return Outcome(None, last_error)


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
