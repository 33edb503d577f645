"""The service's settings, read once from `RISKSCORE_*` environment variables.

`riskscore serve` turns its flags into these variables before the workers start, so every
worker reads the same settings. Unsafe combinations are refused at start, with the reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = ROOT / "model_artifacts" / "default"
DEFAULT_POLICY_FILE = ROOT / "policies" / "default.yaml"
# The development key: accepted only in development mode (`make run`), printed in the README.
DEVELOPMENT_API_KEY = "rs_dev_local_only_7f3a9c"
SCOPES = ("score", "feedback", "admin")


def hash_api_key(key: str) -> str:
    """How keys are stored: sha256 hex. API keys are long random strings, so a fast hash is
    enough (no password stretching needed); see docs/api.md."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(BaseModel):
    """One configured key: its name (for logs and audit), sha256 and scopes."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    scopes: list[str]

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: list[str]) -> list[str]:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {list(SCOPES)}")
        return scopes


class Settings(BaseSettings):
    """Every setting of the service; see docs/operations.md for each."""

    model_config = SettingsConfigDict(env_prefix="RISKSCORE_", extra="forbid", frozen=True)

    development: bool = Field(False, description="Accept the development key; never in prod.")
    redis_url: str | None = Field(None, description="None: start a private embedded Redis.")
    redis_cluster: bool = False
    model_dir: Path = DEFAULT_MODEL_DIR
    model_artifacts_root: Path | None = Field(
        None, description="Where admin reloads may load models from; None: model_dir's folder."
    )
    policy_file: Path = DEFAULT_POLICY_FILE
    api_keys: list[ApiKey] = Field(default_factory=list)
    feature_timeout_ms: float = Field(25.0, gt=0, le=10_000)
    decision_ttl_seconds: int = Field(86_400, ge=60)
    max_body_bytes: int = Field(16_384, ge=1024, le=1_048_576)
    max_list_entries_per_request: int = Field(10_000, ge=1, le=100_000)
    reload_interval_ms: int = Field(250, ge=50, le=5_000)
    echo_endpoint: bool = Field(False, description="Serve POST /v1/echo, for benchmarks only.")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _no_development_key_in_production(self) -> Settings:
        development_hash = hash_api_key(DEVELOPMENT_API_KEY)
        if not self.development and any(k.sha256 == development_hash for k in self.api_keys):
            raise ValueError(
                "RISKSCORE_API_KEYS holds the development key, which is public (it is in the "
                "README); outside development mode configure your own keys"
            )
        return self

    def artifacts_root(self) -> Path:
        """The folder admin reloads may load models from (by default the one holding
        `model_dir`: `model_artifacts/`)."""
        return self.model_artifacts_root or self.model_dir.parent

    def effective_api_keys(self) -> list[ApiKey]:
        """The configured keys, plus the development key in development mode."""
        if not self.development:
            return list(self.api_keys)
        development = ApiKey(
            name="development", sha256=hash_api_key(DEVELOPMENT_API_KEY), scopes=list(SCOPES)
        )
        return [*self.api_keys, development]
