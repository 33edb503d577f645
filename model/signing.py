"""Signed artifacts: an Ed25519 signature of `manifest.json`, made by `riskscore train` with a
release key, checked by `load_model` when the service is given the matching public key.

The manifest holds every file's sha256, so its signature covers the whole artifact. Public-key
signatures, not an HMAC: pods hold only the public key, so no pod can sign an artifact.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from model.errors import ModelSignatureError
from model.manifest import MANIFEST_FILE, SIGNATURE_FILE

ALGORITHM = "ed25519"
# Signed with the manifest, so that a signature made for anything else never verifies here.
_CONTEXT = b"riskscore model manifest v1\n"


def read_signing_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted PEM Ed25519 private key (`openssl genpkey -algorithm ed25519`)."""
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ModelSignatureError(f"{path}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ModelSignatureError(
            f"{path}: holds a key of type {type(key).__name__}; artifacts are signed with "
            "Ed25519 (openssl genpkey -algorithm ed25519)"
        )
    return key


def read_verify_key(path: Path) -> Ed25519PublicKey:
    """A PEM Ed25519 public key (`openssl pkey -in signing.pem -pubout`)."""
    try:
        key = serialization.load_pem_public_key(_read(path))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ModelSignatureError(f"{path}: not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ModelSignatureError(
            f"{path}: holds a key of type {type(key).__name__}; artifacts are verified with "
            "an Ed25519 public key"
        )
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the sha256 of the raw public key: names a key in messages."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_manifest(directory: Path, key: Ed25519PrivateKey) -> None:
    """Write `manifest.sig` beside the artifact's `manifest.json`, signing its bytes."""
    signature = key.sign(_CONTEXT + (directory / MANIFEST_FILE).read_bytes())
    document = {
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    (directory / SIGNATURE_FILE).write_text(json.dumps(document, indent=2) + "\n")


def verify_manifest(directory: Path, manifest: bytes, key_file: Path) -> str:
    """Check `manifest.sig` against the manifest's bytes and the key in `key_file`; return
    the key's id. Raises `ModelSignatureError` naming the file and the problem."""
    key = read_verify_key(key_file)
    path = directory / SIGNATURE_FILE
    if not path.is_file():
        raise ModelSignatureError(
            f"{path}: missing; this service serves only artifacts signed with the key in "
            f"{key_file} (key {key_id(key)})"
        )
    signer, signature = _read_signature(path)
    if signer != key_id(key):
        raise ModelSignatureError(
            f"{path}: signed by key {signer}; this service verifies with key {key_id(key)} "
            f"({key_file})"
        )
    try:
        key.verify(signature, _CONTEXT + manifest)
    except InvalidSignature as exc:
        raise ModelSignatureError(
            f"{path}: the signature does not match {directory / MANIFEST_FILE}; the manifest "
            "changed after it was signed"
        ) from exc
    return signer


def _read_signature(path: Path) -> tuple[str, bytes]:
    try:
        document = json.loads(path.read_text())
        algorithm, signer = document["algorithm"], document["key_id"]
        signature = base64.b64decode(document["signature"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelSignatureError(
            f"{path}: not a signature file (JSON with algorithm, key_id, signature): {exc!r}"
        ) from exc
    if algorithm != ALGORITHM:
        raise ModelSignatureError(f"{path}: algorithm {algorithm!r}; expected {ALGORITHM!r}")
    return str(signer), signature


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelSignatureError(f"{path}: cannot read the key: {exc.strerror}") from exc
