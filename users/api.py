from ninja import Router, Status

from core.ratelimit import count_and_enforce, login_counters
from users.auth import BearerAuth
from users.schemas import LoginIn, RefreshIn, TokenPairOut
from users.services import auth_login, auth_logout, auth_refresh

router = Router(tags=["auth"])


@router.post("/login", response=TokenPairOut, auth=None)
def login(request, payload: LoginIn):
    count_and_enforce(*login_counters(request, payload.email))
    return auth_login(email=payload.email, password=payload.password)


@router.post("/refresh", response=TokenPairOut, auth=None)
def refresh(request, payload: RefreshIn):
    return auth_refresh(refresh_token=payload.refresh_token)


@router.post("/logout", response={204: None}, auth=BearerAuth())
def logout(request):
    auth_logout(user_id=request.auth.user_id)
    return Status(204, None)
