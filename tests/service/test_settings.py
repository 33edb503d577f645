from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.auth import KeyRing
from service.problems import AuthError
from service.settings import (
    DEVELOPMENT_API_KEY,
    ApiKey,
    Settings,
    describe_settings_error,
    hash_api_key,
)


def _development_key() -> ApiKey:
    return ApiKey(name="dev", sha256=hash_api_key(DEVELOPMENT_API_KEY), scopes=["score"])


def test_settings_refuse_the_development_key_outside_development_mode() -> None:
    with pytest.raises(ValidationError, match="development key"):
        Settings.model_validate({"redis_url": "redis://x", "api_keys": [_development_key()]})
    allowed = Settings.model_validate(
        {"redis_url": "redis://x", "development": True, "api_keys": [_development_key()]}
    )
    assert allowed.development


def test_development_mode_accepts_the_development_key_with_every_scope() -> None:
    ring = KeyRing(
        Settings.model_validate(
            {"redis_url": "redis://x", "development": True}
        ).effective_api_keys()
    )
    key = ring.identify(f"Bearer {DEVELOPMENT_API_KEY}")
    assert sorted(key.scopes) == ["admin", "analyst", "feedback", "score"]
    own = ApiKey(name="own", sha256=hash_api_key("own-key-0123456789"), scopes=["score"])
    # Without pydantic's plugin mypy takes every setting for required (as in service/app.py).
    settings = Settings(redis_url="redis://x", api_keys=[own])  # type: ignore[call-arg]
    production = KeyRing(settings.effective_api_keys())
    with pytest.raises(AuthError):
        production.identify(f"Bearer {DEVELOPMENT_API_KEY}")


def test_api_keys_are_refused_with_unknown_scopes_or_a_bad_hash() -> None:
    with pytest.raises(ValidationError, match="unknown scopes"):
        ApiKey(name="x", sha256="0" * 64, scopes=["root"])
    with pytest.raises(ValidationError, match="sha256"):
        ApiKey(name="x", sha256="not-a-hash", scopes=["score"])


def test_key_ring_identifies_only_the_exact_key() -> None:
    ring = KeyRing([ApiKey(name="a", sha256=hash_api_key("secret-a"), scopes=["score"])])
    assert ring.identify("Bearer secret-a").name == "a"
    for header in (None, "", "Bearer", "Basic secret-a", "Bearer secret-b", "Bearer secret-a2"):
        with pytest.raises(AuthError) as caught:
            ring.identify(header)
        assert caught.value.status == 401


def test_a_replay_record_outliving_the_idempotency_marker_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(  # type: ignore[call-arg]  # mypy takes every setting for required
            redis_url="redis://x",
            development=True,
            replay_ttl_seconds=7_200,
            decision_ttl_seconds=3_600,
            event_time_max_age_seconds=3_600,
        )
    assert "RISKSCORE_REPLAY_TTL_SECONDS" in describe_settings_error(refused.value)
