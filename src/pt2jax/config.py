"""Course layout and grading limits (read from the course's pyproject.toml ``[tool.pt2jax]``)."""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DRAFT_MARK", "CourseDir", "Limits", "find_course_root", "tool_env"]

DRAFT_MARK = "DRAFT"  # source/<a>/DRAFT: the assignment is work in progress (its text says what is missing)


@dataclass(frozen=True)
class Limits:
    """Time limits for running one submission."""

    cell_timeout_s: float = 120.0
    notebook_timeout_s: float = 600.0
    call_timeout_s: float = 30.0
    memory_mb: float = 4096.0
    pids_max: float = 512.0
    scratch_mb: float = 1024.0  # the sandbox's working directory and /tmp (tmpfs, counted as memory too)
    grade_timeout_s: float = 1500.0  # one whole grade: notebook and every probe
    interrupt_grace_s: float = 15.0  # an interrupted kernel that does not answer within this is killed

    @classmethod
    def from_pyproject(cls, path: Path) -> Limits:
        """Read ``[tool.pt2jax]`` from ``path``; defaults where absent."""
        if not path.exists():
            return cls()
        table = tomllib.loads(path.read_text()).get("tool", {}).get("pt2jax", {})
        known = {k: float(v) for k, v in table.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def find_course_root(start: Path | None = None) -> Path:
    """The course directory: $PT2JAX_COURSE_ROOT, else the nearest folder holding nbgrader_config.py
    and autograder/ upward from ``start`` (default: cwd), else the repository this package lives in."""
    env = os.environ.get("PT2JAX_COURSE_ROOT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").exists() and (folder / "autograder").is_dir():
            return folder
    repo = Path(__file__).resolve().parents[2]
    if (repo / "nbgrader_config.py").exists():
        return repo
    return here


@dataclass(frozen=True)
class CourseDir:
    """Paths of a course directory laid out as this repository is (class-level work lives in
    :mod:`pt2jax.course`)."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def autograder(self) -> Path:
        return self.root / "autograder"

    @property
    def limits(self) -> Limits:
        """Grading limits from the course's pyproject.toml."""
        return Limits.from_pyproject(self.root / "pyproject.toml")

    def assignments(self) -> list[str]:
        """Assignment ids: the folders of source/ that hold ``<id>/<id>.md``, except drafts (a folder
        with a ``DRAFT`` file: built and graded only when named, e.g. `pt2jax build 04_training`;
        not released, not in the test matrix, not in `make demo`)."""
        return sorted(p.parent.name for p in self.source.glob("*/*.md")
                      if p.stem == p.parent.name and not (p.parent / DRAFT_MARK).exists())

    def report_file(self, assignment: str, student: str, suffix: str = ".json") -> Path:
        """``reports/<assignment>/<student><suffix>``: pt2jax's records of one submission (the grade
        report ``.json``, ``.submitted.json`` flags, ``.nbgrader.log``, ``.unreadable`` / ``.normalized`` notes)."""
        return self.root / "reports" / assignment / f"{student}{suffix}"

    def master(self, assignment: str) -> Path:
        """The released notebook: locked and test cells are restored from it."""
        return self.release / assignment / f"{assignment}.ipynb"


def tool_env() -> dict[str, str]:
    """The environment for nbgrader/jupyter subprocesses: this interpreter's bin/ first on PATH
    (nbgrader runs ``alembic`` from PATH)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env
