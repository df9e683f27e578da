import gzip
import json
import os
import secrets
import subprocess
import sys

from django.conf import settings as django_settings

from goals.tests.factories import GoalFactory


def test_a_body_over_the_limit_is_413_before_any_work(api, admin, settings):
    settings.MAX_BODY_BYTES = 1000
    body = {"members": [{"email": f"u{n}@x.test", "full_name": "x" * 50, "role": "employee"}
                        for n in range(50)]}  # fmt: skip

    response = api.post(admin, "/members/bulk", body)

    assert response.status_code == 413
    envelope = response.json()
    assert envelope["error"] == "payload_too_large"
    assert envelope["request_id"] == response["X-Request-ID"]
    assert "Server-Timing" in response


def test_json_over_1_kb_is_gzipped_when_the_client_accepts_it(api, employee):
    GoalFactory.create_batch(20, owner=employee)

    plain = api.get(employee, "/goals")
    zipped = api.get(employee, "/goals", HTTP_ACCEPT_ENCODING="gzip")

    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.content)) == plain.json()


def test_security_headers_are_sent(api, employee):
    response = api.get(employee, "/me")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def _check_deploy(**env_overrides) -> subprocess.CompletedProcess:
    """`manage.py check --deploy --fail-level WARNING` in a fresh process with these settings."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, "SECRET_KEY": secrets.token_urlsafe(50), **env_overrides},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_deploy_passes_with_production_settings():
    result = _check_deploy(DEBUG="false")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_check_deploy_fails_with_development_settings():
    """The same check can fail: DEBUG on is a deploy warning."""
    result = _check_deploy(DEBUG="true")
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


def test_a_url_over_the_limit_is_414_in_the_envelope(api, admin, settings):
    settings.MAX_URL_BYTES = 300
    search = "x" * 300

    response = api.get(admin, "/members", params={"search": search})

    assert response.status_code == 414
    envelope = response.json()
    assert envelope["error"] == "uri_too_long"
    assert envelope["request_id"] == response["X-Request-ID"]
    assert api.get(admin, "/members", params={"search": "x" * 100}).status_code == 200
