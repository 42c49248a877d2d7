"""The feedback a student reads (nbgrader's generate_feedback HTML): each graded cell is listed by the
exercise it belongs to, not as 19 identical "Test cell" lines.

:class:`ExerciseTitles` (a preprocessor of ``GenerateFeedback``) names every grade cell after the
nearest heading above it; the template in ``templates/feedback/`` (nbgrader's, with that one change)
shows the name. ``nbgrader_config.py`` installs both.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from ..nbmeta import grade_id, is_grade_cell

__all__ = ["TEMPLATES", "ExerciseTitles", "template_dirs"]

TEMPLATES = Path(__file__).resolve().with_name("templates")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


def _plain(markdown: str) -> str:
    return re.sub(r"[`*]", "", markdown).strip()  # code and emphasis marks; underscores are names


class ExerciseTitles(Preprocessor):
    """Set ``metadata.pt2jax_title`` of every grade cell to the heading it sits under."""

    enabled = Bool(True)  # nbconvert skips preprocessors that are not enabled

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        title: str | None = None
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if match := _HEADING.match(line):
                        title = _plain(match.group(1))
            elif is_grade_cell(cell):
                cell.metadata["pt2jax_title"] = title or grade_id(cell) or "Test cell"
        return nb, resources


def template_dirs() -> list[str]:
    """Template folders for nbgrader's HTMLExporter: ours first (its ``feedback``), then nbgrader's."""
    import nbgrader

    theirs = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    return [str(TEMPLATES), str(theirs)]
