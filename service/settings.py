"""The service's settings, read once from `RISKSCORE_*` environment variables.

`riskscore serve` turns its flags into these variables before the workers start, so every
worker reads the same settings. Unsafe combinations are refused at start, with the reason.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from history.chargeback_window import CHARGEBACK_WINDOW_DAYS
from model.errors import ModelSignatureError
from model.signing import read_verify_key
from webhooks.errors import SecretsKeyError
from webhooks.sealing import parse_key
from webhooks.worker import DeliverySettings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = ROOT / "model_artifacts" / "default"
DEFAULT_POLICY_FILE = ROOT / "policies" / "default.yaml"
# The development key: accepted only in development mode (`make run`), printed in the README.
DEVELOPMENT_API_KEY = "rs_dev_local_only_7f3a9c"
SCOPES = ("score", "feedback", "admin", "analyst")


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
    model_verify_key_file: Path | None = Field(
        None, description="PEM Ed25519 public key: serve only models signed by its private key."
    )
    model_artifacts_root: Path | None = Field(
        None, description="Where admin reloads may load models from; None: model_dir's folder."
    )
    policy_file: Path = DEFAULT_POLICY_FILE
    api_keys: list[ApiKey] = Field(default_factory=list)
    feature_timeout_ms: float = Field(25.0, gt=0, le=10_000)
    # How long a transaction id's idempotency marker lives: a retry within it counts once.
    decision_ttl_seconds: int = Field(86_400, ge=60)
    # How long Redis keeps the replay record (the answer, for retries); a retry after it,
    # while the idempotency marker lives, is answered from the record (PostgreSQL).
    replay_ttl_seconds: int = Field(3_600, ge=60)
    database_url: str | None = Field(
        None, description="PostgreSQL of the record; None: riskscore serve starts a private one."
    )
    recording: bool = Field(
        True, description="False: decisions are not recorded; for benchmarks only."
    )
    recorder: Literal["inprocess", "off"] = Field(
        "inprocess", description="off when a separate `riskscore recorder` runs."
    )
    spool_dir: Path = Field(
        Path(tempfile.gettempdir()) / "riskscore-spool",
        description="Where workers keep records while Redis cannot take them (persistent!).",
    )
    spool_max_bytes: int = Field(1 << 30, ge=1 << 20)
    # Longer than the chargeback window: a chargeback needs its decision in the record.
    record_retention_days: int = Field(180, ge=CHARGEBACK_WINDOW_DAYS + 1, le=3_650)
    # The review queue's alert: the oldest unresolved case is older than this (4 h).
    case_max_age_seconds: int = Field(14_400, ge=60, le=30 * 86_400)
    webhooks: Literal["inprocess", "off"] = Field(
        "inprocess", description="off when `riskscore webhooks deliver` runs elsewhere."
    )
    webhook_secrets_key: SecretStr | None = Field(
        None, description="32 bytes, base64: seals subscription secrets (docs/webhooks.md)."
    )
    webhook_concurrency: int = Field(DeliverySettings.concurrency, ge=1, le=1_000)
    webhook_timeout_seconds: float = Field(DeliverySettings.timeout_seconds, gt=0, le=60)
    webhook_max_attempts: int = Field(DeliverySettings.max_attempts, ge=1, le=100)
    webhook_backoff_base_seconds: float = Field(
        DeliverySettings.backoff_base_seconds, gt=0, le=3_600
    )
    webhook_backoff_cap_seconds: float = Field(
        DeliverySettings.backoff_cap_seconds, gt=0, le=86_400
    )
    webhook_retention_days: int = Field(DeliverySettings.retention_days, ge=1, le=3_650)
    # Every route's body limit (score, feedback, ...), but for the admin routes that carry a
    # file or a batch: each has its own (`service/limits.py`, docs/operations.md).
    max_body_bytes: int = Field(16_384, ge=1024, le=1_048_576)
    max_policy_body_bytes: int = Field(2_097_152, ge=16_384, le=16_777_216)
    max_list_body_bytes: int = Field(1_048_576, ge=16_384, le=16_777_216)
    max_labels_body_bytes: int = Field(524_288, ge=16_384, le=16_777_216)
    # A checkout scores a payment as it happens: a little clock skew is normal, an event from
    # the future would move every velocity window of the entities it names.
    event_time_max_future_seconds: int = Field(300, ge=0, le=86_400)
    # Older events could be retries whose idempotency marker has expired (it lives
    # `decision_ttl_seconds`), which would count twice: so no older than that.
    event_time_max_age_seconds: int = Field(86_400, ge=60)
    max_list_entries_per_request: int = Field(10_000, ge=1, le=100_000)
    max_labels_per_request: int = Field(1_000, ge=1, le=100_000)
    reload_interval_ms: int = Field(250, ge=50, le=5_000)
    # The console (`/console`): a session ends after this long idle, and after the maximum
    # whatever its use; log-in attempts per client address and window.
    console_session_idle_seconds: int = Field(1_800, ge=60, le=86_400)
    console_session_max_seconds: int = Field(43_200, ge=300, le=604_800)
    console_login_attempts: int = Field(10, ge=1, le=1_000)
    console_login_window_seconds: int = Field(300, ge=10, le=86_400)
    echo_endpoint: bool = Field(False, description="Serve POST /v1/echo, for benchmarks only.")
    log_level: str = "INFO"

    @field_validator("model_verify_key_file")
    @classmethod
    def _verify_key_is_readable(cls, path: Path | None) -> Path | None:
        """Read at start, so that a wrong key stops the service instead of every model."""
        if path is not None:
            try:
                read_verify_key(path)
            except ModelSignatureError as exc:
                raise ValueError(f"{exc} (the release public key, PEM)") from exc
        return path

    @field_validator("webhook_secrets_key")
    @classmethod
    def _secrets_key_is_32_bytes(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            try:
                parse_key(key.get_secret_value())
            except SecretsKeyError as exc:
                raise ValueError(str(exc)) from exc
        return key

    @model_validator(mode="after")
    def _no_development_key_in_production(self) -> Settings:
        development_hash = hash_api_key(DEVELOPMENT_API_KEY)
        if not self.development and any(k.sha256 == development_hash for k in self.api_keys):
            raise ValueError(
                "RISKSCORE_API_KEYS holds the development key, which is public (it is in the "
                "README); outside development mode configure your own keys"
            )
        if not self.development and not self.api_keys:
            raise ValueError(
                "RISKSCORE_API_KEYS is empty, so every request would be refused: configure "
                'keys as a JSON list of {"name", "sha256", "scopes"} (docs/api.md), or run '
                "in development mode (riskscore serve --dev) on a laptop"
            )
        return self

    @model_validator(mode="after")
    def _no_event_older_than_its_idempotency_marker(self) -> Settings:
        if self.event_time_max_age_seconds > self.decision_ttl_seconds:
            raise ValueError(
                f"RISKSCORE_EVENT_TIME_MAX_AGE_SECONDS ({self.event_time_max_age_seconds}) "
                f"exceeds RISKSCORE_DECISION_TTL_SECONDS ({self.decision_ttl_seconds}): a "
                "retry older than its idempotency marker would count twice; lower the first "
                "or raise the second"
            )
        return self

    @model_validator(mode="after")
    def _replays_within_the_idempotency_window(self) -> Settings:
        if self.replay_ttl_seconds > self.decision_ttl_seconds:
            raise ValueError(
                f"RISKSCORE_REPLAY_TTL_SECONDS ({self.replay_ttl_seconds}) exceeds "
                f"RISKSCORE_DECISION_TTL_SECONDS ({self.decision_ttl_seconds}): a replay record "
                "is only read for a transaction id whose idempotency marker lives; lower the "
                "first or raise the second"
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


def describe_settings_error(exc: Exception) -> str:
    """A refusal of the settings as lines a person can act on: the variable, what is wrong
    with its value and what would be valid (never pydantic's raw output or its links)."""
    if not isinstance(exc, ValidationError):
        # pydantic-settings' SettingsError: a complex variable that is not valid JSON.
        field = str(exc).partition('"')[2].partition('"')[0]
        variable = f"RISKSCORE_{field.upper()}" if field else "a RISKSCORE_* variable"
        return f"{variable}: not valid JSON; expected {_valid_values(field)}"
    lines = []
    for error in exc.errors(include_url=False):
        location = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not location:
            lines.append(message)
            continue
        variable = f"RISKSCORE_{location[0].upper()}"
        inside = f" (at {'.'.join(location[1:])})" if len(location) > 1 else ""
        lines.append(f"{variable}{inside}: {message}; expected {_valid_values(location[0])}")
    return "\n".join(lines)


def _valid_values(name: str) -> str:
    field = Settings.model_fields.get(name)
    if field is None:
        return f"one of the variables in docs/operations.md ({', '.join(_variables())})"
    if name == "api_keys":
        return 'a JSON list of {"name", "sha256" (64 hex digits), "scopes"} objects'
    kind = getattr(field.annotation, "__name__", str(field.annotation))
    bounds = _bounds(field.metadata)
    return f"{kind}{' ' + bounds if bounds else ''} (default {field.default!r})"


def _bounds(metadata: list[Any]) -> str:
    words = []
    for item in metadata:
        for kind, attribute, sign in (
            (Gt, "gt", ">"),
            (Ge, "ge", ">="),
            (Lt, "lt", "<"),
            (Le, "le", "<="),
        ):
            if isinstance(item, kind):
                words.append(f"{sign} {getattr(item, attribute)}")
    return " and ".join(words)


def _variables() -> list[str]:
    return [f"RISKSCORE_{name.upper()}" for name in Settings.model_fields]
