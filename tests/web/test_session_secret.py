"""The screens refuse a placeholder session secret outside development, when they are mounted."""

from __future__ import annotations

import pytest

from api.app import create_app
from models.settings import DEV_SESSION_SECRET, Settings

REAL = "a-long-random-session-secret-0123456789"


def test_placeholder_secret_refused_outside_development() -> None:
    """Test and production refuse the default and short secrets; development takes the default."""
    for env in ("test", "production"):
        for secret in (DEV_SESSION_SECRET, "changeme", "short-secret"):
            settings = Settings.model_construct(env=env, session_secret=secret)
            with pytest.raises(ValueError, match="COLLECTFLOW_SESSION_SECRET"):
                settings.web_session_secret()
        real = Settings.model_construct(env=env, session_secret=REAL)
        assert real.web_session_secret() == REAL
    assert Settings(env="development").web_session_secret() == DEV_SESSION_SECRET


def test_api_does_not_start_with_a_placeholder_secret() -> None:
    """create_app (the API process) stops at once and names the setting."""
    with pytest.raises(ValueError, match="COLLECTFLOW_SESSION_SECRET"):
        create_app(Settings(env="test"))
