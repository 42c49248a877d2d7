"""The submissions of one student before grading: set aside what nbgrader cannot read, normalize what
it refuses, and record what the student did to the cells as submitted (nbgrader's sanitizing would
hide it)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat

from ..config import CourseDir
from ..grade.restore import read_notebook, restore

__all__ = ["normalize_submission", "scan_submitted", "set_aside_unreadable", "submitted_notebooks"]


def submitted_notebooks(root: Path, assignment: str, student: str) -> Iterator[tuple[Path, Path, Path]]:
    """(submitted notebook, its released master, where the original is kept if it was normalized)
    for every submitted notebook that belongs to the assignment."""
    for path in sorted((root / "submitted" / student / assignment).glob("*.ipynb")):
        master = root / "release" / assignment / path.name
        if master.exists():
            yield path, master, path.with_name(path.name + ".original")


def normalize_submission(root: Path, assignment: str, student: str) -> bool:
    """nbgrader refused the notebook as submitted (odd metadata, duplicated cells...): keep the
    original beside it and put in its place the notebook our restore step builds from it (the
    student's answers in the master's cells). Returns whether anything was normalized."""
    note = CourseDir(root).report_file(assignment, student, ".normalized")
    if note.exists():
        return False  # normalized once already: do not loop
    changed = []
    for path, master, original in submitted_notebooks(root, assignment, student):
        if not original.exists():
            shutil.copy(path, original)
        nb = restore(read_notebook(original), nbformat.read(master, as_version=4)).nb
        nbformat.write(nb, path)
        changed.append(path.name)
    if changed:
        note.write_text(f"nbgrader could not process {', '.join(changed)} as submitted; a normalized copy"
                        " (the student's answers in the released cells) was graded, the original is kept"
                        " as *.ipynb.original\n")
    return bool(changed)


def set_aside_unreadable(root: Path, assignment: str, student: str) -> None:
    """nbgrader stops on a notebook it cannot parse: keep the file (renamed) and submit the released
    stub with a note in its place, so the student gets 0 with a clear message and nothing is lost."""
    folder = root / "submitted" / student / assignment
    for path in sorted(folder.glob("*.ipynb")):
        try:
            read_notebook(path)
            continue
        except Exception as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
        master = root / "release" / assignment / path.name
        kept = path.with_name(path.name + ".unreadable")
        path.rename(kept)
        nb = nbformat.read(master, as_version=4) if master.exists() else nbformat.v4.new_notebook()
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(
            f"**pt2jax:** the submitted `{path.name}` could not be read as a notebook ({reason}). "
            f"It is kept as `{kept.name}`; this blank copy was graded instead."))
        nbformat.write(nb, path)
        note = CourseDir(root).report_file(assignment, student, ".unreadable")
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(f"{path.name}: {reason}\n")


def scan_submitted(root: Path, assignment: str, student: str) -> None:
    """Restore-step flags of the notebook as submitted: nbgrader's sanitizing (duplicate ids removed,
    locked cells overwritten) would otherwise hide what the student did to the cells."""
    flags = []
    for path, master, original in submitted_notebooks(root, assignment, student):
        try:
            result = restore(read_notebook(original if original.exists() else path),
                             nbformat.read(master, as_version=4))
        except Exception:
            continue  # unreadable files are handled by set_aside_unreadable
        flags += [f.to_json() for f in result.flags]
    out = CourseDir(root).report_file(assignment, student, ".submitted.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(flags, indent=1))
