"""Build: the course's source of truth (``source/<a>/<a>.md``) becomes ``release/`` and
``solutions/`` through nbgrader (:mod:`.generate`), and is verified before release (:mod:`.verify`:
solution full marks, stub zero). :mod:`.formgrader` hooks the same generation into nbgrader's
formgrader, so every way of generating writes the same bytes."""

from .generate import BuildError, generate, md_to_notebook, notebook_bytes, stage_source, strip_outputs
from .verify import BuildResult, build_assignment, format_build

__all__ = [
    "BuildError",
    "BuildResult",
    "build_assignment",
    "format_build",
    "generate",
    "md_to_notebook",
    "notebook_bytes",
    "stage_source",
    "strip_outputs",
]
