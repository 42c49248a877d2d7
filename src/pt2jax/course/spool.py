"""Grades that came back from workers and wait for the one writer: ``reports/<a>/.spool/<key>.json``.

A result is put here the moment it arrives, before anything is written to the gradebook, and taken
by :class:`.nbgrader_plugin.PipelineGrade` only for exactly the same submission (the key of
:func:`.bundle.submission_key`: bundle, seed, student, notebook text). So a client killed after a
result arrived does not grade it again, and a result can never land on another submission or on a
changed autograder. The entry is dropped once the student's completion marker is written.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .bundle import GradeOutcome

__all__ = ["Spool"]


class Spool:
    """The waiting results of one assignment of course ``root``."""

    def __init__(self, root: Path, assignment: str) -> None:
        self.folder = root / "reports" / assignment / ".spool"

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def put(self, key: str, outcome: GradeOutcome) -> None:
        """Keep ``outcome`` for ``key`` (written whole or not at all)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-")
        with os.fdopen(fd, "w") as fh:
            json.dump(outcome.to_json(), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path(key))

    def get(self, key: str) -> GradeOutcome | None:
        """The outcome kept for ``key``, if any."""
        try:
            return GradeOutcome.from_json(json.loads(self._path(key).read_text()))
        except (OSError, json.JSONDecodeError):
            return None

    def has(self, key: str) -> bool:
        return self._path(key).exists()

    def drop(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
