"""What /health and /metrics say about the queue (DESIGN.md §11)."""

from __future__ import annotations

from django.db import connection

from .support import csv_file, import_post, member_lines


def test_health_reports_the_queue_depth_and_its_oldest_jobs_age(api, admin):
    body = api.get(None, "/health").json()
    assert body["checks"]["queue"]["status"] == "ok"
    assert body["checks"]["queue"]["depth"] == 0
    assert body["checks"]["queue"]["oldest_queued_age_s"] == 0

    import_post(api, admin, csv_file(member_lines(1)))
    queue = api.get(None, "/health").json()["checks"]["queue"]
    assert queue["status"] == "ok" and queue["depth"] == 1
    assert 0 <= queue["oldest_queued_age_s"] < 60


def test_a_job_waiting_too_long_makes_the_service_degraded(api, admin):
    import_post(api, admin, csv_file(member_lines(1)))
    with connection.cursor() as cursor:  # queued ten minutes ago, and no worker took it
        cursor.execute("UPDATE procrastinate_events SET at = now() - interval '10 minutes'")

    response = api.get(None, "/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["queue"]["status"] == "down"
    assert body["checks"]["queue"]["oldest_queued_age_s"] >= 600


def test_metrics_export_the_queue_gauges_and_the_job_series(api, admin):
    import_post(api, admin, csv_file(member_lines(1)))

    text = api.client.get("/metrics").content.decode()  # the test client is a loopback caller

    assert 'cadence_queue_depth{queue="imports"} 1.0' in text
    assert 'cadence_queue_depth{queue="webhooks"} 0.0' in text
    assert "cadence_queue_oldest_age_seconds " in text
    assert "# TYPE cadence_job_duration_seconds histogram" in text
    assert "# TYPE cadence_job_failures_total counter" in text
