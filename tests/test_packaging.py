"""The image and the project files: what the Dockerfile copies exists, the CLI answers --help."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from riskscore.cli import build_parser

ROOT = Path(__file__).parents[1]


def _copied_paths() -> list[str]:
    paths: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"COPY\s+(?!--from)(.+)", line)
        if match:
            *sources, _destination = match.group(1).split()
            paths += sources
    return paths


def test_dockerfile_copies_only_existing_paths() -> None:
    paths = _copied_paths()
    assert "model_artifacts/default" in paths
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, f"Dockerfile copies paths that do not exist: {missing}"


def test_dockerignore_lets_every_copied_path_through() -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for path in _copied_paths():
        assert any(path == a or path.startswith(a + "/") for a in allowed), path


def _first_party_imports(package: str) -> set[str]:
    """The top-level first-party packages that `package`'s modules import."""
    found = set()
    for source in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return {name for name in found if (ROOT / name / "__init__.py").exists()}


def test_dockerfile_copies_every_package_the_service_imports() -> None:
    """`riskscore serve` in the image: the service and everything it imports, transitively."""
    needed, todo = set(), ["service"]
    while todo:
        package = todo.pop()
        if package not in needed:
            needed.add(package)
            todo += sorted(_first_party_imports(package))
    missing = needed - set(_copied_paths())
    assert not missing, (
        f"the image's service imports packages the Dockerfile does not copy: {missing}"
    )


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_has_help(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "riskscore.cli", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"usage: riskscore {command}" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["simulate", "--out", "h.txt"], "use a .parquet or .csv file name"),
        (["simulate", "--out", "h.csv", "--transactions", "5"], "need >= 100 transactions"),
        (["train", "--data", "missing.csv"], "missing.csv: cannot read the history"),
    ],
)
def test_cli_reports_bad_input_without_a_traceback(
    arguments: list[str], message: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "riskscore.cli", *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
