"""Webhook subscriptions (DESIGN.md §11): admin only, the secret shown once, URLs refused before
anything is sent to them (SSRF), known event types only; and the query counts of the job and
webhook endpoints at two sizes."""

from __future__ import annotations

import json
import socket

import pytest

from jobs.models import Delivery, Job, Webhook
from jobs.outbound import BAD_PORT, CREDENTIALS, NOT_HTTPS, NOT_PUBLIC, UNRESOLVED
from jobs.services.webhooks import UNKNOWN_EVENT
from orgs.models import AuditEvent

from .support import csv_file, import_post, member_lines

RECEIVER = "http://127.0.0.1:9/hook"  # nothing listens on port 9 (discard); never contacted here


@pytest.fixture
def loopback(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True


@pytest.fixture
def fake_dns(monkeypatch):
    """Host names of the tests resolve to what the test says; nothing else resolves (no DNS
    query leaves the machine)."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]
        if host in ("localhost",) or host.replace(".", "").isdigit() or ":" in host:
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def _create(api, actor, url=RECEIVER, events=("*",)):
    return api.post(actor, "/webhooks", {"url": url, "events": list(events)})


def test_an_admin_creates_a_webhook_and_sees_its_secret_once(api, admin, loopback):
    response = _create(api, admin, events=["goal.submitted", "member.created"])

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "url", "events", "created_at", "secret"}
    assert body["url"] == RECEIVER and body["events"] == ["goal.submitted", "member.created"]
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    listed = api.get(admin, "/webhooks")
    assert listed.status_code == 200
    assert [set(item) for item in listed.json()["items"]] == [{"id", "url", "events", "created_at"}]
    assert secret not in listed.content.decode()
    event = AuditEvent.objects.get(action="webhook.create")
    assert secret not in json.dumps(event.changes)
    assert secret not in str(Webhook.objects.get())
    # It receives what is committed after it: its cursor is its own creation's change.
    assert Webhook.objects.get().cursor_seq == admin.org.__class__.objects.get().change_seq


def test_all_events_is_a_star_and_an_unknown_type_is_422(api, admin, loopback):
    assert _create(api, admin, events=["goal.created", "*"]).json()["events"] == ["*"]

    response = _create(api, admin, events=["goal.created", "goal.exploded"])

    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["details"]] == [["body", "events", 1]]
    assert not Webhook.objects.filter(events__contains=["goal.exploded"]).exists()
    assert UNKNOWN_EVENT  # the service's own message, for callers that bypass the schema


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://10.0.0.5/hook", NOT_PUBLIC),  # private
        ("https://192.168.1.20/hook", NOT_PUBLIC),
        ("https://172.16.3.4/hook", NOT_PUBLIC),
        ("https://127.0.0.1:8443/hook", NOT_PUBLIC),  # loopback, without the flag
        ("https://[::1]/hook", NOT_PUBLIC),
        ("https://169.254.169.254/latest/meta-data", NOT_PUBLIC),  # link-local (cloud metadata)
        ("https://[fe80::1]/hook", NOT_PUBLIC),
        ("https://0.0.0.0/hook", NOT_PUBLIC),
        ("https://localhost/hook", NOT_PUBLIC),  # a host name resolving to 127.0.0.1
        ("https://intranet.example/hook", NOT_PUBLIC),  # a host name resolving to 10.1.2.3
        ("https://nowhere.example/hook", UNRESOLVED),
        ("http://hooks.example/hook", NOT_HTTPS),
        ("https://user:pass@hooks.example/hook", CREDENTIALS),
        ("https://hooks.example:99999/hook", BAD_PORT),
    ],
)
def test_a_refused_url_is_422_at_body_url(api, admin, fake_dns, url, message):
    fake_dns["intranet.example"] = "10.1.2.3"
    fake_dns["hooks.example"] = "93.184.216.34"  # public: accepted by a check, never contacted

    response = _create(api, admin, url=url)

    assert response.status_code == 422, response.content
    assert response.json()["details"] == [{"loc": ["body", "url"], "msg": message}]
    assert not Webhook.objects.exists()


def test_loopback_only_with_the_flag_and_then_http_too(api, admin, settings, fake_dns):
    fake_dns["intranet.example"] = "10.1.2.3"
    settings.WEBHOOKS_ALLOW_LOOPBACK = True

    assert _create(api, admin, url="http://127.0.0.1:9/hook").status_code == 201
    assert _create(api, admin, url="https://localhost:9/hook").status_code == 201
    for url in ("http://10.0.0.1/hook", "http://intranet.example/hook", "https://10.0.0.1/"):
        assert _create(api, admin, url=url).status_code == 422, url


def test_delete_stops_a_webhook_and_its_deliveries_go(api, admin, loopback):
    webhook_id = _create(api, admin).json()["id"]
    Delivery.objects.create(
        org=admin.org, webhook_id=webhook_id, seq=1, event_type="goal.created", payload={}
    )

    assert api.delete(admin, f"/webhooks/{webhook_id}").status_code == 204

    assert not Webhook.objects.exists() and not Delivery.objects.exists()
    assert api.get(admin, f"/webhooks/{webhook_id}/deliveries").status_code == 404
    assert api.delete(admin, f"/webhooks/{webhook_id}").status_code == 404
    assert AuditEvent.objects.filter(action="webhook.delete", entity_id=webhook_id).exists()


def test_webhooks_are_for_admins_403_for_other_members_404_for_strangers(
    api, admin, manager, employee, outsider, loopback
):
    webhook_id = _create(api, admin).json()["id"]
    calls = [
        ("GET", "/webhooks", None),
        ("POST", "/webhooks", {"url": RECEIVER, "events": ["*"]}),
        ("DELETE", f"/webhooks/{webhook_id}", None),
        ("GET", f"/webhooks/{webhook_id}/deliveries", None),
    ]
    for method, path, data in calls:
        for member in (manager, employee):
            assert api.request(method, member, path, data).status_code == 403, (path, member)
        url = f"/api/org/{admin.org.slug}{path}"
        assert api.request(method, outsider.user, url, data).status_code == 404, path
    # Another org's admin naming this org's webhook in its own org: 404 too.
    assert api.get(outsider, f"/webhooks/{webhook_id}/deliveries").status_code == 404
    assert api.delete(outsider, f"/webhooks/{webhook_id}").status_code == 404
    assert Webhook.objects.count() == 1


def test_deliveries_list_newest_first_with_the_pinned_fields(api, admin, loopback):
    webhook_id = _create(api, admin).json()["id"]
    for seq in (5, 6, 7):
        Delivery.objects.create(
            org=admin.org, webhook_id=webhook_id, seq=seq, event_type="goal.created", payload={}
        )

    page = api.get(admin, f"/webhooks/{webhook_id}/deliveries", {"limit": 2}).json()
    rest = api.get(
        admin, f"/webhooks/{webhook_id}/deliveries", {"limit": 2, "cursor": page["next_cursor"]}
    ).json()

    assert [item["seq"] for item in page["items"] + rest["items"]] == [7, 6, 5]
    assert set(page["items"][0]) == {
        "id",
        "seq",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    }
    assert page["items"][0]["status"] == "pending"


# --- Query counts, at two sizes -----------------------------------------------------------------


def _jobs(admin, count):
    Job.objects.bulk_create(
        Job(org=admin.org, created_by=admin, kind=Job.Kind.MEMBERS_IMPORT) for _ in range(count)
    )


@pytest.mark.parametrize("size", [3, 30])
def test_job_endpoints_cost_one_query_at_any_size(api, admin, size, django_assert_num_queries):
    _jobs(admin, size)
    job_id = Job.objects.order_by("-id").values_list("pk", flat=True).first()
    api.get(admin, "/jobs")  # warm: token, org and membership come from Redis from here on
    # 1 page of jobs (keyset)
    with django_assert_num_queries(1):
        assert len(api.get(admin, "/jobs").json()["items"]) == size
    # 1 job by id within the org
    with django_assert_num_queries(1):
        assert api.get(admin, f"/jobs/{job_id}").status_code == 200


@pytest.mark.parametrize("size", [2, 20])
def test_webhook_endpoints_cost_the_same_at_any_size(
    api, admin, loopback, size, django_assert_num_queries
):
    webhooks = Webhook.objects.bulk_create(
        Webhook(org=admin.org, url=RECEIVER, events=["*"], secret="s") for _ in range(size)
    )
    Delivery.objects.bulk_create(
        Delivery(org=admin.org, webhook=webhooks[0], seq=seq, event_type="x", payload={})
        for seq in range(1, 5 * size + 1)
    )
    api.get(admin, "/webhooks")  # warm
    # 1 page of webhooks
    with django_assert_num_queries(1):
        assert len(api.get(admin, "/webhooks").json()["items"]) == size
    # 1 the webhook is the org's, 1 page of its deliveries
    with django_assert_num_queries(2):
        page = api.get(admin, f"/webhooks/{webhooks[0].pk}/deliveries", {"limit": 200}).json()
    assert len(page["items"]) == 5 * size


def test_import_start_costs_two_queries(api, admin, django_assert_num_queries):
    api.get(admin, "/jobs")  # warm
    # 1 INSERT the job (with its file), 1 defer its queue entry (procrastinate's function),
    # inside one transaction (here a savepoint and its release: the test's own transaction)
    with django_assert_num_queries(4) as captured:
        assert import_post(api, admin, csv_file(member_lines(10))).status_code == 202
    assert len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]) == 2
