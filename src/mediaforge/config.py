"""One typed Settings object: ``MEDIAFORGE_*`` environment first, then an optional file.

Groups are flat fields with a shared prefix (``db_``, ``storage_``, ``worker_``...) so each maps to
exactly one environment variable. ``MEDIAFORGE_CONFIG_FILE`` may point at a ``.env``-style file.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "reset_settings"]


class Settings(BaseSettings):
    """Every knob mediaforge reads, validated once at startup."""

    model_config = SettingsConfigDict(env_prefix="MEDIAFORGE_", extra="ignore")

    # --- local state -----------------------------------------------------------------------
    data_dir: Path = Field(Path("./var"), description="All local state (SQLite file, blobs) lives here.")
    env: Literal["dev", "test", "prod"] = "dev"
    public_url: str = Field("http://127.0.0.1:8000", description="Base URL used in signed links.")
    secret_key: SecretStr = Field(
        default=SecretStr(""), description="HMAC key for signed URLs; generated under data_dir if empty."
    )

    # --- database ----------------------------------------------------------------------------
    database_url: str = Field("", description="SQLAlchemy URL; default sqlite file under data_dir.")
    db_pool_size: int = 10
    db_echo: bool = False

    # --- storage -----------------------------------------------------------------------------
    storage_url: str = Field("", description="file:///path, memory://, or s3://bucket/prefix.")
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None

    # --- assets ------------------------------------------------------------------------------
    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(100_000_000, ge=1, description="Larger images are refused (bombs).")
    super_resolution_max_pixels: int = Field(
        262_144,
        ge=0,
        description="Largest input (in pixels) upscaled by Real-ESRGAN where installed; larger ones, and all "
        "when 0, use Lanczos (2x of 512 x 512 takes about 3 s on one CPU core).",
    )
    super_resolution_device: int = Field(
        -1, ge=-1, description="Where Real-ESRGAN runs: -1 the CPU (ncnn), N the Vulkan GPU N."
    )
    asset_ttl_seconds: int = Field(7 * 24 * 3600, ge=0, description="0 keeps uploads forever.")
    fetch_timeout_seconds: float = 30.0
    fetch_max_redirects: int = 5
    fetch_allow_hosts: str = Field("", description="Comma-separated host[:port] exempt from the SSRF guard.")

    # --- jobs --------------------------------------------------------------------------------
    result_ttl_seconds: int = Field(7 * 24 * 3600, ge=0, description="Results expire this long after end.")
    lease_seconds: float = Field(30.0, gt=0)
    default_max_attempts: int = Field(3, ge=1)
    retry_backoff_seconds: float = Field(2.0, ge=0)
    retry_backoff_max_seconds: float = Field(300.0, ge=0)
    cancel_grace_seconds: float = Field(5.0, ge=0)
    sweep_interval_seconds: float = Field(5.0, gt=0)

    # --- workers -----------------------------------------------------------------------------
    worker_concurrency: int = Field(0, ge=0, description="Child processes per worker; 0 means CPU count.")
    worker_queues: str = "default"
    worker_capabilities: str = Field("cpu", description="Comma-separated capabilities this host offers.")
    worker_memory_limit_mb: int = Field(0, ge=0, description="Address-space ceiling per child; 0 = none.")
    worker_poll_seconds: float = Field(
        0.01, gt=0, description="Idle poll on SQLite (a cheap read) when no notification can arrive."
    )
    embedded_workers: int | None = Field(
        None,
        ge=0,
        description="Work processes `serve` runs beside the API; None = worker_concurrency, 0 = none.",
    )

    # --- events ------------------------------------------------------------------------------
    bus_url: str = Field(
        "",
        description="Cross-process event fan-out: '' = PostgreSQL NOTIFY when the database is "
        "PostgreSQL, else in-process; or redis://host:port/db, or memory://.",
    )
    sse_heartbeat_seconds: float = Field(15.0, gt=0)
    sse_retry_ms: int = Field(2000, ge=0, description="The `retry:` hint sent to SSE clients.")
    sse_max_connection_seconds: float = Field(3600.0, gt=0, description="Streams are closed after this.")
    sse_queue_size: int = Field(
        1000, ge=1, description="Events buffered per slow client before it is cut off."
    )

    # --- webhooks ----------------------------------------------------------------------------
    webhook_timeout_seconds: float = Field(15.0, gt=0)
    webhook_schedule: str = Field(
        "0,5,300,1800,7200,18000,36000,36000", description="Seconds before each attempt (jittered)."
    )
    webhook_disable_after: int = Field(
        50, ge=1, description="Consecutive failures that disable a subscription."
    )
    webhook_concurrency: int = Field(8, ge=1)

    # --- identity ----------------------------------------------------------------------------
    auth_disabled: bool = Field(
        False,
        description="Local development only: every caller is the local admin. Refused unless the server "
        "binds a loopback address.",
    )
    signup_open: bool = Field(True, description="Anyone may create an account with POST /v1/accounts.")
    session_ttl_seconds: int = Field(30 * 24 * 3600, gt=0)
    guest_ttl_seconds: int = Field(30 * 24 * 3600, gt=0)
    device_code_ttl_seconds: int = Field(900, gt=0)
    device_poll_seconds: int = Field(5, ge=1, description="The polling interval told to device clients.")
    pairing_code_ttl_seconds: int = Field(900, gt=0)

    # --- rate limits -------------------------------------------------------------------------
    rate_limit_storage: str = Field(
        "", description="'' = in memory (one node); redis://host:port/db to share limits across nodes."
    )
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description='Per-route overrides as JSON, e.g. {"auth.login": "5/minute", "api": "1000/minute"}; '
        '"" turns one off.',
    )

    # --- credits -----------------------------------------------------------------------------
    credit_daily: dict[str, int] = Field(
        default_factory=lambda: {"guest": 20, "free": 50},
        description="Tiers reset to this balance every day at midnight UTC.",
    )
    credit_plans: dict[str, int] = Field(
        default_factory=lambda: {"pro": 1000, "business": 10000},
        description="Paid tiers: credits granted each billing period.",
    )
    credit_costs: dict[str, int] = Field(
        default_factory=lambda: {"tinify.image": 1},
        description="Credits per operation (a job type or a face's operation).",
    )
    credit_default_cost: int = Field(0, ge=0, description="Cost of an operation not in credit_costs.")

    # --- payments ----------------------------------------------------------------------------
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_prices: dict[str, str] = Field(
        default_factory=dict, description="Stripe price id -> the paid tier it buys."
    )

    # --- tagging -----------------------------------------------------------------------------
    tagging_vision_base_url: str | None = Field(
        None, description="An OpenAI-compatible API (…/v1) whose vision model writes alt text and keywords."
    )
    tagging_vision_model: str | None = None
    tagging_vision_api_key: SecretStr | None = None
    tagging_vision_timeout_seconds: float = Field(30.0, gt=0, le=120)

    # --- photos (the Ifolor actions) ---------------------------------------------------------
    photos_embedding: Literal["colour", "mobilenet"] = Field(
        "colour", description="Image embedding computed at import: colour-and-structure, or MobileNetV2 too."
    )
    photos_faces: bool = Field(True, description="Count faces at import when mediapipe is installed.")
    photos_sync_max_photos: int = Field(
        2000, ge=0, description="Actions over more photos than this run as jobs (202)."
    )
    text_llm_base_url: str | None = Field(
        None, description="An OpenAI-compatible API (…/v1) that writes SUGGEST_TEXT's titles and captions."
    )
    text_llm_model: str | None = None
    text_llm_api_key: SecretStr | None = None
    text_llm_timeout_seconds: float = Field(30.0, gt=0, le=120)

    # --- faces -------------------------------------------------------------------------------
    cors_origins: str = Field(
        "*",
        description="Comma-separated origins allowed by CORS ('*' = any; the VideoAnnotator viewer "
        "runs at http://localhost:19011).",
    )
    scheduler_secret: SecretStr | None = Field(
        None,
        description="Shared secret a scheduler sends (X-Scheduler-Secret or Bearer) to the "
        "/internal/* endpoints; unset = those endpoints answer 403 (the built-in scheduler runs them).",
    )
    tinify_temp_ttl_seconds: int = Field(24 * 3600, gt=0, description="Tinify temp uploads live this long.")
    tinify_job_ttl_seconds: int = Field(24 * 3600, gt=0, description="Tinify results expire this long after.")

    # --- logging -----------------------------------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @model_validator(mode="after")
    def _defaults_under_data_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'mediaforge.db'}"
        if not self.storage_url:
            self.storage_url = (self.data_dir / "blobs").as_uri()
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def allow_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.fetch_allow_hosts.split(",") if h.strip())

    @property
    def queues(self) -> list[str]:
        return [q.strip() for q in self.worker_queues.split(",") if q.strip()]

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(c.strip() for c in self.worker_capabilities.split(",") if c.strip())

    @property
    def concurrency(self) -> int:
        return self.worker_concurrency or (os.cpu_count() or 1)

    def check_bind(self, host: str) -> None:
        """Refuse ``auth_disabled`` unless the server listens on loopback only."""
        if self.auth_disabled and not _is_loopback(host):
            raise ValueError(
                f"MEDIAFORGE_AUTH_DISABLED=true is for local development and is refused when binding {host}; "
                "bind 127.0.0.1 or turn auth on"
            )

    @property
    def payments_configured(self) -> bool:
        return self.stripe_secret_key is not None and self.stripe_webhook_secret is not None

    def cost(self, operation: str) -> int:
        """Credits one ``operation`` costs."""
        return self.credit_costs.get(operation, self.credit_default_cost)

    def signing_key(self) -> bytes:
        """The HMAC key for signed URLs, created once under data_dir when not configured."""
        configured = self.secret_key.get_secret_value()
        if configured:
            return configured.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()

    def public(self) -> dict[str, Any]:
        """The effective configuration with secrets masked (for ``doctor``)."""
        out = self.model_dump(mode="json")
        for name, value in out.items():
            if isinstance(getattr(self, name), SecretStr) and value:
                out[name] = "**********"
        out["database_url"] = _mask_url(self.database_url)
        return out


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _mask_url(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once: the environment, then ``MEDIAFORGE_CONFIG_FILE`` if set."""
    return Settings(_env_file=os.environ.get("MEDIAFORGE_CONFIG_FILE"))


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between apps)."""
    get_settings.cache_clear()
