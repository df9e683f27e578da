from __future__ import annotations

from ninja import Schema
from pydantic import Field

from core.inputs import StrictIn


class LoginIn(StrictIn):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class RefreshIn(StrictIn):
    refresh_token: str = Field(max_length=4096)


class TokenPairOut(Schema):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
