"""The course's nbgrader configuration as the instructor's process sees it: the gradebook's URL
(``c.CourseDirectory.db_url``: SQLite in the course by default, PostgreSQL or another server when
configured) and the notebook nbgrader's sanitizing hands to :class:`.nbgrader_plugin.PipelineGrade`."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["db_url", "nbgrader_config", "sanitized_text"]


@functools.lru_cache(maxsize=8)
def nbgrader_config(root: Path) -> Any:
    """The traitlets Config of ``root/nbgrader_config.py`` (empty when the course has none)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    if not (root / "nbgrader_config.py").exists():
        return Config()
    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def db_url(root: Path) -> str:
    """The gradebook every pt2jax step reads and writes: nbgrader's own setting for course ``root``."""
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=nbgrader_config(root))
    coursedir.root = str(root)
    return str(coursedir.db_url)


def sanitized_text(root: Path, assignment: str, student: str, path: Path) -> str:
    """The text of the notebook ``nbgrader autograde`` will hand to PipelineGrade for the submitted
    ``path``: nbgrader's own sanitize preprocessors (``Autograde.sanitize_preprocessors``, as configured)
    over it, with the resources nbgrader gives them, then written and read back as nbgrader does
    between its two passes. Raises what nbgrader would stop on (e.g. cell metadata it refuses)."""
    from nbgrader.converters.autograde import Autograde

    config = nbgrader_config(root)
    preprocessors = Autograde(config=config).sanitize_preprocessors
    name = path.stem
    resources: dict[str, Any] = {
        "unique_key": name, "output_files_dir": f"{name}_files",
        "nbgrader": {"student": student, "assignment": assignment, "notebook": name, "db_url": db_url(root)},
    }
    nb = nbformat.read(path, as_version=4)
    for cls in preprocessors:
        nb, resources = cls(config=config)(nb, resources)
    text = nbformat.writes(nb)
    return nbformat.writes(nbformat.reads(text if text.endswith("\n") else text + "\n", as_version=4))
