"""The course directory the formgrader service serves: a copy of this repository's course files in
the grader account's home, owned by it and closed to everyone else (the gradebook, ``autograder/``
and ``source/`` hold the hidden checks and the solutions)."""

from __future__ import annotations

import os
import pwd
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..build.formgrader import stage_sources
from ..config import CourseDir

__all__ = ["install_course"]

_GENERATED = shutil.ignore_patterns("__pycache__", "*.ipynb", "pt2jax_*.py", "requirements.txt", ".ipynb_checkpoints")


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for folder, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def install_course(repo: Path, dest: Path, owner: str, assignments: Iterable[str] | None = None) -> Path:
    """Copy the course (config, ``source/``, ``autograder/`` of ``assignments``, default all) to ``dest``,
    stage its source notebooks, and give it to ``owner`` (mode 0700). An existing course is left as it is."""
    if (dest / "nbgrader_config.py").exists():
        return dest
    dest.mkdir(parents=True)
    for name in ("nbgrader_config.py", "pyproject.toml"):
        shutil.copy(repo / name, dest / name)
    shutil.copytree(repo / "requirements", dest / "requirements")
    names = list(assignments) if assignments is not None else CourseDir(repo).assignments()
    for name in names:
        for part in ("source", "autograder"):
            if (repo / part / name).is_dir():
                shutil.copytree(repo / part / name, dest / part / name, ignore=_GENERATED)
    stage_sources(dest)  # the formgrader lists source/<a>/<a>.ipynb
    user = pwd.getpwnam(owner)
    _chown_tree(dest, user.pw_uid, user.pw_gid)
    dest.chmod(0o700)
    return dest
