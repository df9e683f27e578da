"""Expiry times with jitter. Entries written together (every socket's membership when a crowd
connects, a deploy's warm-up, a load test's logins) would otherwise expire together, and be
recomputed in the same second: a full membership check costs ~0.7 ms of a WebSocket process's
CPU, so 1,000 sockets' entries expiring at once stalled its deliveries for ~0.7 s."""

from __future__ import annotations

import random


def jittered(seconds: int, spread: float = 0.2) -> int:
    """`seconds` shortened by up to `spread` of it, at random: never longer than asked."""
    return max(1, round(seconds * random.uniform(1 - spread, 1)))  # noqa: S311 - not a secret
