"""Signed artifacts: a service given the release public key serves only what that key signed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from model.artifact import load_model
from model.errors import ModelSignatureError
from model.manifest import MANIFEST_FILE, ONNX_FILE, SIGNATURE_FILE, sha256_file
from model.signing import key_id, read_signing_key, sign_manifest
from tests.conftest import write_key_pair

pytestmark = pytest.mark.slow


@pytest.fixture
def artifact(trained_artifact: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained_artifact, tmp_path / "model"))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return write_key_pair(tmp_path, "release")


def test_signed_artifact_loads_with_the_release_public_key(
    artifact: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    sign_manifest(artifact, read_signing_key(private))
    signature = json.loads((artifact / SIGNATURE_FILE).read_text())
    assert signature["algorithm"] == "ed25519"
    assert signature["key_id"] == key_id(read_signing_key(private).public_key())
    model = load_model(artifact, verify_key_file=public)
    assert model.version == json.loads((artifact / MANIFEST_FILE).read_text())["model_version"]


def test_unsigned_artifact_is_refused_when_a_signature_is_required(
    artifact: Path, keys: tuple[Path, Path]
) -> None:
    load_model(artifact)  # without a key, unsigned artifacts load (signing is optional)
    with pytest.raises(ModelSignatureError, match=r"manifest\.sig: missing; this service serves"):
        load_model(artifact, verify_key_file=keys[1])


def test_artifact_changed_after_signing_is_refused(artifact: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    sign_manifest(artifact, read_signing_key(private))
    # Edit a file and update its hash, as someone would to get past the checksums.
    with (artifact / ONNX_FILE).open("ab") as handle:
        handle.write(b"\0")
    path = artifact / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["files"][ONNX_FILE] = sha256_file(artifact / ONNX_FILE)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    with pytest.raises(ModelSignatureError, match="the manifest changed after it was signed"):
        load_model(artifact, verify_key_file=public)


def test_artifact_signed_by_another_key_is_refused(
    artifact: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    other, _ = write_key_pair(tmp_path, "other")
    sign_manifest(artifact, read_signing_key(other))
    with pytest.raises(ModelSignatureError, match=r"manifest\.sig: signed by key [0-9a-f]{16}; "):
        load_model(artifact, verify_key_file=keys[1])


def test_a_forged_signature_under_the_right_key_id_is_refused(
    artifact: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    other, _ = write_key_pair(tmp_path, "other")
    sign_manifest(artifact, read_signing_key(other))
    path = artifact / SIGNATURE_FILE
    forged = json.loads(path.read_text())
    forged["key_id"] = key_id(read_signing_key(private).public_key())
    path.write_text(json.dumps(forged))
    with pytest.raises(ModelSignatureError, match="changed after it was signed"):
        load_model(artifact, verify_key_file=public)


def test_keys_that_are_not_ed25519_are_named(tmp_path: Path, artifact: Path) -> None:
    ec = generate_private_key(SECP256R1())
    pem = tmp_path / "ec.pem"
    pem.write_bytes(
        ec.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(ModelSignatureError, match=r"ec\.pem: holds a key of type \w*ECPublicKey; "):
        load_model(artifact, verify_key_file=pem)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    with pytest.raises(ModelSignatureError, match=r"garbage\.pem: not an unencrypted PEM"):
        read_signing_key(garbage)
    with pytest.raises(ModelSignatureError, match=r"absent\.pem: cannot read the key"):
        load_model(artifact, verify_key_file=tmp_path / "absent.pem")


_CLI = [sys.executable, "-m", "riskscore.cli"]


def _sign_cli(artifact: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_CLI, "sign", "--model", str(artifact), "--signing-key-file", str(key)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_sign_cli_signs_an_artifact_that_verifies(artifact: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    result = _sign_cli(artifact, private)
    assert result.returncode == 0, result.stderr
    assert "signed model rs-" in result.stderr
    load_model(artifact, verify_key_file=public)


def test_sign_cli_refuses_an_artifact_the_service_would_refuse(
    artifact: Path, keys: tuple[Path, Path]
) -> None:
    with (artifact / ONNX_FILE).open("ab") as handle:
        handle.write(b"\0")
    result = _sign_cli(artifact, keys[0])
    assert result.returncode == 2
    assert "error: not signed: " in result.stderr
    assert "model.onnx: sha256 differs" in result.stderr
    assert not (artifact / SIGNATURE_FILE).exists()
