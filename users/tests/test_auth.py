"""Login, refresh rotation, logout and every way an access token can be bad (DESIGN.md §4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from django.conf import settings

from users.models import User
from users.services import user_save
from users.tests.factories import TEST_PASSWORD, UserFactory
from users.tokens import refresh_token_encode

pytestmark = pytest.mark.django_db


def _login(api, email: str, password: str = TEST_PASSWORD):
    return api.post(None, "/api/auth/login", {"email": email, "password": password})


def _assert_401_envelope(response) -> None:
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"error", "message", "details", "request_id"}
    assert body["error"] == "unauthorized"
    assert body["details"] == []
    assert body["request_id"] == response["X-Request-ID"]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user: User, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "sub": str(user.pk),
        "ver": user.token_version,
        "type": "access",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict, *, key: str | None = None, algorithm="HS256", kid=None) -> str:
    return jwt.encode(
        claims,
        key or settings.JWT_SIGNING_KEY,
        algorithm=algorithm,
        headers={"kid": kid or settings.JWT_KEY_ID},
    )


# --- login -----------------------------------------------------------------------------------


def test_login_returns_a_bearer_token_pair_that_authenticates(api):
    user = UserFactory(email="ann@example.test")

    response = _login(api, "ANN@example.test ")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.JWT_ACCESS_TTL
    me = api.get(None, "/api/auth/me", token=body["access_token"])
    assert me.status_code == 200
    assert me.json()["id"] == user.pk


def test_login_with_a_wrong_password_is_401(api):
    UserFactory(email="ann@example.test")
    _assert_401_envelope(_login(api, "ann@example.test", "wrong-password-1"))


def test_login_with_an_unknown_email_is_401_with_the_same_message(api):
    UserFactory(email="ann@example.test")
    unknown = _login(api, "nobody@example.test")
    wrong = _login(api, "ann@example.test", "wrong-password-1")

    _assert_401_envelope(unknown)
    assert unknown.json()["message"] == wrong.json()["message"]


def test_login_of_an_inactive_user_is_401_even_with_the_right_password(api):
    UserFactory(email="ann@example.test", is_active=False)
    _assert_401_envelope(_login(api, "ann@example.test"))


# --- refresh ---------------------------------------------------------------------------------


def test_refresh_rotates_the_pair_and_the_new_pair_works(api):
    UserFactory(email="ann@example.test")
    first = _login(api, "ann@example.test").json()

    response = api.post(None, "/api/auth/refresh", {"refresh_token": first["refresh_token"]})

    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert api.get(None, "/api/auth/me", token=second["access_token"]).status_code == 200
    third = api.post(None, "/api/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert third.status_code == 200


def test_a_reused_refresh_token_is_rejected_and_revokes_its_family_and_access_tokens(
    api, django_capture_on_commit_callbacks
):
    UserFactory(email="ann@example.test")
    first = _login(api, "ann@example.test").json()
    second = api.post(None, "/api/auth/refresh", {"refresh_token": first["refresh_token"]}).json()
    assert api.get(None, "/api/auth/me", token=second["access_token"]).status_code == 200

    # The test runs inside one transaction; the new token version is published on commit.
    with django_capture_on_commit_callbacks(execute=True):
        replay = api.post(None, "/api/auth/refresh", {"refresh_token": first["refresh_token"]})

    _assert_401_envelope(replay)
    newest = api.post(None, "/api/auth/refresh", {"refresh_token": second["refresh_token"]})
    _assert_401_envelope(newest)
    _assert_401_envelope(api.get(None, "/api/auth/me", token=second["access_token"]))


def test_an_access_token_is_not_accepted_as_a_refresh_token(api):
    UserFactory(email="ann@example.test")
    pair = _login(api, "ann@example.test").json()
    response = api.post(None, "/api/auth/refresh", {"refresh_token": pair["access_token"]})
    _assert_401_envelope(response)


# --- logout ----------------------------------------------------------------------------------


def test_logout_is_204_and_the_same_access_token_fails_on_the_next_request(
    api, django_capture_on_commit_callbacks
):
    UserFactory(email="ann@example.test")
    pair = _login(api, "ann@example.test").json()
    token = pair["access_token"]
    assert api.get(None, "/api/auth/me", token=token).status_code == 200  # now cached as valid

    # The test runs inside one transaction; the new token version is published on commit.
    with django_capture_on_commit_callbacks(execute=True):
        logout = api.post(None, "/api/auth/logout", token=token)

    assert logout.status_code == 204
    assert logout.content == b""
    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))
    refresh = api.post(None, "/api/auth/refresh", {"refresh_token": pair["refresh_token"]})
    _assert_401_envelope(refresh)


def test_logout_without_a_token_is_401(api):
    _assert_401_envelope(api.post(None, "/api/auth/logout"))


# --- /api/auth/me ----------------------------------------------------------------------------


# --- malformed, forged and revoked tokens ----------------------------------------------------


def test_a_garbage_token_is_401(api):
    _assert_401_envelope(api.get(None, "/api/auth/me", token="not-a-jwt"))


def test_an_authorization_header_without_bearer_is_401(api):
    user = UserFactory()
    token = api.token_for(user)
    response = api.client.get("/api/auth/me", HTTP_AUTHORIZATION=token)
    _assert_401_envelope(response)
    response = api.client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Basic {token}")
    _assert_401_envelope(response)


def test_an_alg_none_token_is_401(api):
    user = UserFactory()
    header = {"alg": "none", "typ": "JWT", "kid": settings.JWT_KEY_ID}
    token = f"{_b64(header)}.{_b64(_claims(user))}."
    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))


def _hand_signed(header: dict, claims: dict, key: bytes) -> str:
    """A token whose header says what the attacker likes, HMAC-SHA256-signed with `key`."""
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256"])
def test_an_rs_hs_confusion_token_is_401(api, alg):
    """Header claims an asymmetric algorithm, signature is an HMAC with the real secret: a
    verifier that took the algorithm from the header would accept it."""
    user = UserFactory()
    header = {"alg": alg, "typ": "JWT", "kid": settings.JWT_KEY_ID}
    token = _hand_signed(header, _claims(user), settings.JWT_SIGNING_KEY.encode())
    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))


def test_the_hand_signer_makes_tokens_that_pass_when_the_algorithm_is_honest(api):
    user = UserFactory()
    header = {"alg": "HS256", "typ": "JWT", "kid": settings.JWT_KEY_ID}
    token = _hand_signed(header, _claims(user), settings.JWT_SIGNING_KEY.encode())
    assert api.get(None, "/api/auth/me", token=token).status_code == 200


def test_an_hs256_token_signed_with_a_public_key_text_is_401(api):
    """The other half of the confusion: an HMAC keyed with a PEM public key string."""
    user = UserFactory()
    pem = (
        b"-----BEGIN PUBLIC KEY-----\n"
        b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
        b"-----END PUBLIC KEY-----\n"
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": settings.JWT_KEY_ID}
    _assert_401_envelope(
        api.get(None, "/api/auth/me", token=_hand_signed(header, _claims(user), pem))
    )


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_token_signed_with_hs512_and_the_right_key_is_401(api):
    user = UserFactory()
    token = _sign(_claims(user), algorithm="HS512")
    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))


def test_a_token_signed_with_another_key_is_401(api):
    user = UserFactory()
    token = _sign(_claims(user), key="another-key-of-at-least-32-bytes-000000")
    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))


def test_an_expired_token_is_401(api):
    user = UserFactory()
    now = int(time.time())
    token = _sign(_claims(user, iat=now - 1000, exp=now - 10))
    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))


def test_a_token_without_exp_is_401(api):
    user = UserFactory()
    claims = _claims(user)
    del claims["exp"]
    _assert_401_envelope(api.get(None, "/api/auth/me", token=_sign(claims)))


def test_a_refresh_token_used_as_an_access_token_is_401(api):
    UserFactory(email="ann@example.test")
    pair = _login(api, "ann@example.test").json()
    _assert_401_envelope(api.get(None, "/api/auth/me", token=pair["refresh_token"]))


def test_a_hand_made_refresh_token_used_as_an_access_token_is_401(api):
    import uuid

    user = UserFactory()
    token = refresh_token_encode(
        user_id=user.pk, version=user.token_version, jti=uuid.uuid4(), family=uuid.uuid4()
    )
    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))


def test_a_token_with_an_unknown_kid_is_401(api):
    user = UserFactory()
    token = _sign(_claims(user), kid="cadence-unknown")
    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))


def test_a_well_signed_token_is_accepted_so_the_forgery_tests_can_fail(api):
    user = UserFactory()
    assert api.get(None, "/api/auth/me", token=_sign(_claims(user))).status_code == 200


def test_a_token_of_a_deleted_user_is_401(api):
    user = UserFactory()
    token = api.token_for(user)
    assert api.get(None, "/api/auth/me", token=token).status_code == 200  # cached as valid

    user.delete()

    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))


def test_a_token_of_a_never_existing_user_is_401(api):
    user = UserFactory()
    _assert_401_envelope(
        api.get(None, "/api/auth/me", token=_sign(_claims(user, sub=str(user.pk + 10_000))))
    )


def test_a_token_stops_working_on_the_next_request_after_the_user_is_deactivated(
    api, employee, django_capture_on_commit_callbacks
):
    user = employee.user
    token = api.token_for(user)
    assert api.get(None, "/api/auth/me", token=token).status_code == 200  # cached as valid
    assert api.get(employee, "/me", token=token).status_code == 200

    user.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        user_save(user=user, changed={"is_active"})  # bumps token_version, published on commit

    _assert_401_envelope(api.get(None, "/api/auth/me", token=token))
    _assert_401_envelope(api.get(employee, "/me", token=token))
    _assert_401_envelope(_login(api, user.email))
