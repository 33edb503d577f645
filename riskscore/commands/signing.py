"""`riskscore sign` and the release key option of `riskscore train`: artifacts signed with an
Ed25519 key, which the service verifies when given the public key (docs/operations.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

Commands = Any  # argparse's private _SubParsersAction
SIGNING_KEY_VARIABLE = "RISKSCORE_MODEL_SIGNING_KEY_FILE"


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "sign",
        help="sign a model artifact with the release key",
        description="Verify a model artifact as the service does (hashes, features, parity "
        "sample), then sign its manifest with an Ed25519 private key (writes manifest.sig).",
    )
    parser.add_argument("--model", type=Path, required=True, help="model artifact folder")
    add_signing_key_argument(parser, required=True)
    parser.set_defaults(handler=_sign)


def add_signing_key_argument(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """`--signing-key-file`, defaulting to $RISKSCORE_MODEL_SIGNING_KEY_FILE."""
    default = os.environ.get(SIGNING_KEY_VARIABLE) or None
    unset = "required" if required else "unset: unsigned"
    parser.add_argument(
        "--signing-key-file",
        type=Path,
        default=default,
        required=required and default is None,
        help=f"PEM Ed25519 private key (default: ${SIGNING_KEY_VARIABLE}; {unset})",
    )


def signing_key_or_exit(path: Path | None) -> Any:
    """The release key (None: none given); exit with status 2, saying why, if unreadable."""
    if path is None:
        return None
    from model.errors import ModelSignatureError
    from model.signing import read_signing_key

    try:
        return read_signing_key(path)
    except ModelSignatureError as exc:
        sys.stderr.write(f"error: --signing-key-file {exc}\n")
        raise SystemExit(2) from exc


def _sign(args: argparse.Namespace) -> int:
    from model.artifact import load_model
    from model.errors import ModelArtifactError
    from model.signing import key_id, sign_manifest

    key = signing_key_or_exit(args.signing_key_file)
    try:
        model = load_model(args.model)  # never sign what the service would refuse
    except ModelArtifactError as exc:
        sys.stderr.write(f"error: not signed: {exc}\n")
        return 2
    sign_manifest(args.model, key)
    sys.stderr.write(
        f"signed model {model.version} in {args.model} with key {key_id(key.public_key())}\n"
    )
    return 0
