"""RISKSCORE_MODEL_VERIFY_KEY_FILE end to end: the running service serves a signed artifact and
stays unready with one nobody signed, or one changed after signing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from feature_store.redis_server import RedisServer
from model.manifest import MANIFEST_FILE
from model.signing import read_signing_key, sign_manifest
from service.settings import DEFAULT_MODEL_DIR
from tests.conftest import write_key_pair
from tests.service.conftest import RunningService, auth, settings_for, transaction

pytestmark = pytest.mark.redis


def _readiness(redis_url: str, model_dir: Path, key: Path) -> tuple[int, str | None]:
    """(status of /readyz, model version served) of a service started on `model_dir`."""
    settings = settings_for(redis_url, model_dir=model_dir, model_verify_key_file=key)
    service = RunningService.start(settings)
    try:
        with service.client() as http:
            ready = http.get("/readyz")
            reply = http.post("/v1/score", json=transaction("verify-", 1), headers=auth("score"))
            version = reply.json().get("model_version") if reply.status_code == 200 else None
            return ready.status_code, version
    finally:
        service.stop()


def test_service_with_a_verify_key_serves_only_signed_artifacts(tmp_path: Path) -> None:
    private, public = write_key_pair(tmp_path, "release")
    artifact = Path(shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "model"))
    version = json.loads((artifact / MANIFEST_FILE).read_text())["model_version"]
    with RedisServer() as server:
        assert _readiness(server.url, artifact, public) == (503, None)  # unsigned
        sign_manifest(artifact, read_signing_key(private))
        assert _readiness(server.url, artifact, public) == (200, version)
        manifest = json.loads((artifact / MANIFEST_FILE).read_text())
        manifest["suggested_score_bands"]["decline_at"] = 0.99
        (artifact / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        assert _readiness(server.url, artifact, public) == (503, None)  # changed after signing


def test_settings_refuse_a_verify_key_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"absent\.pem: cannot read the key"):
        settings_for("redis://x", model_verify_key_file=tmp_path / "absent.pem")
    private, _ = write_key_pair(tmp_path, "release")
    with pytest.raises(ValidationError, match=r"release\.pem: not a PEM public key"):
        settings_for("redis://x", model_verify_key_file=private)
