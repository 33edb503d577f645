"""Which model directories a worker may load: the configured one, and any under the artifacts
root. admin reload (`model_dir`) or published pointer -> `ArtifactsRoot` -> `ModelFollower.load`.

Paths are resolved before they are compared, so a symbolic link cannot lead a reload out of the
root, neither as the directory nor as a file in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.errors import ModelArtifactError


class ModelDirectoryError(ModelArtifactError):
    """A reload names a model directory that may not be loaded; the message says why."""

    field = "model_dir"


@dataclass(frozen=True)
class ArtifactsRoot:
    """The artifacts root and the configured model directory, both resolved.

    >>> artifacts = ArtifactsRoot.of(Path("model_artifacts"), Path("model_artifacts/default"))
    >>> artifacts.directory("rs-20260430-c8d0071b")  # relative to the root, resolved
    """

    root: Path
    configured: Path

    @classmethod
    def of(cls, root: Path, configured: Path) -> ArtifactsRoot:
        return cls(root.resolve(), configured.resolve())

    def directory(self, requested: str | None) -> Path:
        """The resolved directory a reload of `requested` loads (None: the configured one).

        Raises `ModelDirectoryError` for a NUL character, a path outside the root (after
        following links), or one that is not a directory.
        """
        if requested is None:
            return self.configured
        if "\x00" in requested:
            raise ModelDirectoryError("contains a NUL character; send a directory path")
        path = Path(requested)
        try:
            resolved = (path if path.is_absolute() else self.root / path).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of symbolic links
            raise ModelDirectoryError(f"{requested!r} cannot be resolved: {exc}") from exc
        self.check(resolved)
        return resolved

    def check(self, directory: Path) -> None:
        """Refuse a resolved `directory` that may not be loaded (`ModelDirectoryError`)."""
        if directory == self.configured:
            return  # what the operator configured is served wherever it is
        if not directory.is_relative_to(self.root):
            raise ModelDirectoryError(
                f"{str(directory)!r} is outside the model artifacts root {str(self.root)!r} "
                "(RISKSCORE_MODEL_ARTIFACTS_ROOT); put the artifact under it"
            )
        if not directory.is_dir():
            what = "is not a directory" if directory.exists() else "does not exist"
            raise ModelDirectoryError(f"{str(directory)!r} {what}; send a model artifact folder")
        for entry in directory.iterdir():
            if not entry.resolve().is_relative_to(self.root):
                raise ModelDirectoryError(
                    f"{str(directory / entry.name)!r} links outside the model artifacts root "
                    f"{str(self.root)!r}"
                )
