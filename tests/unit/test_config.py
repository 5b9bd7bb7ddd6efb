"""Settings: environment first, then the optional file; secrets masked; defaults under data_dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mediaforge.config import Settings, get_settings, reset_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> None:
    reset_settings()


def test_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    """With no configuration the database and blobs sit under data_dir."""
    s = Settings(data_dir=tmp_path)
    assert (f"sqlite:///{tmp_path}/mediaforge.db", (tmp_path / "blobs").as_uri()) == (
        s.database_url,
        s.storage_url,
    )


def test_config_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MEDIAFORGE_CONFIG_FILE supplies values; an environment variable overrides the file."""
    config = tmp_path / "mediaforge.env"
    config.write_text("MEDIAFORGE_LEASE_SECONDS=12\nMEDIAFORGE_WORKER_QUEUES=a,b\n")
    monkeypatch.setenv("MEDIAFORGE_CONFIG_FILE", str(config))
    monkeypatch.setenv("MEDIAFORGE_WORKER_QUEUES", "c")
    s = get_settings()
    assert (12.0, ["c"]) == (s.lease_seconds, s.queues)


def test_invalid_values_are_refused_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value that fails validation stops startup with a clear error."""
    monkeypatch.setenv("MEDIAFORGE_LEASE_SECONDS", "-1")
    with pytest.raises(ValueError, match="lease_seconds"):
        get_settings()


def test_public_view_masks_secrets(tmp_path: Path) -> None:
    """doctor's view of the config never shows secrets, payment keys or database passwords."""
    s = Settings(
        data_dir=tmp_path,
        secret_key="hunter2",
        database_url="postgresql://u:pw@h/db",
        stripe_secret_key="sk_test_hunter3",
        stripe_webhook_secret="whsec_hunter4",
    )
    shown = s.public()
    assert ("**********", "**********", "**********", "postgresql://u:***@h/db") == (
        shown["secret_key"],
        shown["stripe_secret_key"],
        shown["stripe_webhook_secret"],
        shown["database_url"],
    )
    assert not any(clear in json.dumps(shown) for clear in ("hunter2", "hunter3", "hunter4", ":pw@"))
