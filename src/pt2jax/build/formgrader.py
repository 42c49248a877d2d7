"""Formgrader build hooks: nbgrader converter hooks so the formgrader's "generate" builds as `pt2jax build` does.

nbgrader's formgrader runs ``GenerateAssignment`` inside the Jupyter server on
``source/<a>/<a>.ipynb``. Our source of truth is ``source/<a>/<a>.md``, so ``nbgrader_config.py``
installs two hooks on the converters:

* :func:`restage_before_convert` (``pre_convert_hook``) rewrites the notebook and the shipped helper
  files from the ``.md`` with :func:`pt2jax.build.generate.stage_source`, right before nbgrader reads them;
* :class:`CanonicalNotebookExporter` (``exporter_class``) writes the generated notebooks in the
  canonical form that ``pt2jax build`` commits.

So ``pt2jax build``, ``nbgrader generate_assignment`` and the formgrader's generate button all write
the same bytes into ``release/``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.exporters import NotebookExporter

from ..config import CourseDir, find_course_root
from .generate import notebook_bytes, stage_source

__all__ = ["CanonicalNotebookExporter", "restage_before_convert", "stage_sources", "stage_stale_sources"]


def restage_before_convert(assignment: str = "", student: str = "", notebooks: Any = (), **_: Any) -> None:
    """nbgrader ``pre_convert_hook``: regenerate ``source/<a>/<a>.ipynb`` (and helpers) from ``<a>.md``.

    nbgrader logs and swallows a hook's exception, so the stale notebook is removed first: if the
    ``.md`` cannot be read, generation then fails loudly instead of releasing the old notebook."""
    folders = {Path(nb).resolve().parent for nb in notebooks}
    for folder in folders:
        md = folder / f"{folder.name}.md"
        if folder.parent.name != "source" or not md.exists():
            continue  # not a pt2jax source folder (e.g. an autograde of submitted/): nothing to stage
        (folder / f"{folder.name}.ipynb").unlink(missing_ok=True)
        stage_source(CourseDir(folder.parent.parent), folder.name)


class CanonicalNotebookExporter(NotebookExporter):
    """The notebook exporter nbgrader uses, writing the canonical bytes ``pt2jax build`` commits."""

    def from_notebook_node(  # type: ignore[override]  # nbconvert annotates a node; it returns text
        self, nb: Any, resources: Any = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        output, resources = super().from_notebook_node(nb, resources, **kw)
        node = nbformat.reads(output, as_version=4)
        node.metadata.pop("jupytext", None)
        return notebook_bytes(node).decode(), resources


def stage_sources(root: Path) -> list[str]:
    """Stage every assignment's source notebook from its ``.md`` (what the formgrader lists)."""
    course = CourseDir(root)
    assignments = course.assignments()
    for assignment in assignments:
        stage_source(course, assignment)
    return assignments


def stage_stale_sources(root: Path) -> list[str]:
    """Stage the source notebooks that are missing (a fresh clone has none, and nbgrader's generate
    finds nothing to convert without them). Run by nbgrader_config.py,
    so every nbgrader command sees the course as `pt2jax build` would; a broken ``.md`` is reported,
    not raised, so that commands which do not generate (collect, export) still work."""
    course = CourseDir(Path(root))
    staged = []
    for assignment in course.assignments():
        if (course.source / assignment / f"{assignment}.ipynb").exists():
            # an existing one is left alone even when older: generation restages it anyway
            # (restage_before_convert), and a notebook newer than its .md makes jupytext refuse to open
            # the .md in Lab (they are a pair)
            continue
        try:
            stage_source(course, assignment)
            staged.append(assignment)
        except Exception as exc:  # reported; `pt2jax build` and generate fail loudly on it
            print(f"pt2jax: could not stage source/{assignment}/{assignment}.md: {exc}", file=sys.stderr)
    return staged


if __name__ == "__main__":  # `python -m pt2jax.build.formgrader`: used by `make lab`
    root = find_course_root()
    print("staged source notebooks:", ", ".join(stage_sources(root)) or "none", file=sys.stderr)
