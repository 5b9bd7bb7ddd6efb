"""The identity API's bodies and views."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mediaforge.identity.principal import check_scopes

__all__ = [
    "AccountView",
    "Credentials",
    "DeviceCode",
    "DeviceDecision",
    "DeviceStartView",
    "DeviceTokenView",
    "GuestView",
    "KeyCreate",
    "KeyView",
    "KeyWithSecret",
    "PairingView",
    "PasswordChange",
    "Signup",
    "TokenView",
    "WorkerPair",
]


class Signup(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(min_length=8, max_length=1024)


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class AccountView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str | None
    role: str
    tier: str
    created_at: datetime | None = None


class TokenView(BaseModel):
    """A new bearer token: send it as ``Authorization: Bearer <token>``. Shown once."""

    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime | None
    account: AccountView


class KeyCreate(BaseModel):
    name: str = Field(max_length=200)
    scopes: list[str] = Field(default_factory=lambda: ["*"], max_length=50)
    expires_in_days: int | None = Field(None, ge=1, le=3650)

    @field_validator("scopes")
    @classmethod
    def _known(cls, scopes: list[str]) -> list[str]:
        return check_scopes(scopes)


class KeyView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str | None
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyWithSecret(KeyView):
    secret: str
    """The whole key; it is never shown again."""


class DeviceStartView(BaseModel):
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceCode(BaseModel):
    device_code: str = Field(max_length=200)


class DeviceDecision(BaseModel):
    user_code: str = Field(max_length=20)


class DeviceTokenView(BaseModel):
    status: str
    """``pending`` | ``approved`` | ``denied`` | ``expired``."""
    token: str | None = None
    """With ``approved``: the device token, sent as ``Authorization: Bearer``."""
    interval: int | None = None


class PairingView(BaseModel):
    code: str
    expires_at: datetime
    install_command: str


class WorkerPair(BaseModel):
    code: str = Field(max_length=200)
    name: str | None = Field(None, max_length=200)


class GuestView(BaseModel):
    token: str
    account_id: str
    expires_at: datetime | None
