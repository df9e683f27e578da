from users.tests.factories import UserFactory


def test_metrics_after_a_few_requests(api, employee, client):
    api.get(employee, "/me")
    api.get(employee, "/me")

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    text = response.content.decode()
    route = 'method="GET",route="api/org/<org_slug>/me"'
    assert f"cadence_request_latency_seconds_count{{{route}}}" in text
    assert 'cadence_request_sql_queries_bucket{le="0.0",method="GET"' in text
    assert 'cadence_cache_lookups_total{result="hit"}' in text
    assert "django_http_requests_total_by_method_total" in text


def test_metrics_need_loopback_or_the_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics"
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    wrong = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    right = client.get(
        "/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-metrics"
    )
    assert right.status_code == 200


def test_ops_database_is_for_superusers(api, employee, db):
    superuser = UserFactory(is_superuser=True, is_staff=True)

    assert api.get(employee.user, "/api/ops/database").status_code == 403
    assert api.get(None, "/api/ops/database").status_code == 401
    response = api.get(superuser, "/api/ops/database")
    assert response.status_code == 200
    body = response.json()
    assert body["vendor"] == "postgresql"
    assert body["pool_enabled"] is True
    assert "pool_size" in body["pool"]
