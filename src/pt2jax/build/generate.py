"""Generate: source/<a>/<a>.md → source/<a>/<a>.ipynb (+ the kit files it imports) → nbgrader's
release and solution copies, in canonical bytes. Verification before release is :mod:`.verify`."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from ..config import CourseDir
from ..errors import GradingError
from ..nbgrader_cmd import run_nbgrader

__all__ = [
    "KIT_DIR",
    "BuildError",
    "generate",
    "kit_modules_used",
    "md_to_notebook",
    "notebook_bytes",
    "stage_source",
    "strip_outputs",
]

# Standalone modules shipped to students: src/pt2jax/kit/<name>.py travels as pt2jax_<name>.py beside
# every released notebook that imports pt2jax_<name> (and only those).
KIT_DIR = Path(__file__).resolve().parent.parent / "kit"
STUDENT_REQUIREMENTS = "requirements.txt"
_ID_OK = re.compile(r"[^A-Za-z0-9_-]")


class BuildError(GradingError):
    """An assignment cannot be released."""


def md_to_notebook(md_path: Path) -> nbformat.NotebookNode:
    """Read a jupytext MyST file into a notebook with deterministic cell ids."""
    nb = jupytext.read(md_path, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    used: set[str] = set()
    for index, cell in enumerate(nb.cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid:
            base = _ID_OK.sub("-", str(gid))[:64]
        else:
            digest = hashlib.sha1(cell.source.encode()).hexdigest()[:8]
            base = f"c{index:03d}-{digest}"
        cid, n = base, 1
        while cid in used:
            n += 1
            cid = f"{base[:60]}-{n}"
        used.add(cid)
        cell["id"] = cid
    return nb


def notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    """Canonical serialisation: what a freshness check compares."""
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def strip_outputs(nb: Any) -> Any:
    """A copy without what running it adds: outputs, execution counts and timings, the kernel's
    language_info, the widgets' saved state (tqdm's progress bars) (solutions are compared this way)."""
    nb = json.loads(json.dumps(nb))
    nb.get("metadata", {}).pop("language_info", None)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    return nb


def kit_modules_used(nb: nbformat.NotebookNode) -> dict[str, str]:
    """{kit module file: shipped name} for every ``pt2jax_<name>`` the notebook's code imports."""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    used = {}
    for module in sorted(KIT_DIR.glob("[a-z]*.py")):
        shipped = f"pt2jax_{module.stem}"
        if re.search(rf"^\s*(import|from)\s+{shipped}\b", code, re.M):
            used[module.name] = shipped + ".py"
    return used


def kit_file_text(module: str) -> str:
    """The shipped text of kit module ``module`` (a header, then the module's source)."""
    return f"# Generated from src/pt2jax/kit/{module} by `pt2jax build`: do not edit.\n" + (KIT_DIR / module).read_text()


def stage_source(course: CourseDir, assignment: str) -> None:
    """Write source/<a>/<a>.ipynb from the .md, and the files nbgrader ships beside it (the kit
    modules the notebook imports, the student requirements); stale kit copies are removed."""
    folder = course.source / assignment
    nb = md_to_notebook(folder / f"{assignment}.md")
    (folder / f"{assignment}.ipynb").write_bytes(notebook_bytes(nb))
    used = kit_modules_used(nb)
    for stale in folder.glob("pt2jax_*.py"):
        if stale.name not in used.values():
            stale.unlink()
    for module, shipped in used.items():
        (folder / shipped).write_text(kit_file_text(module))
    shutil.copy(course.root / "requirements" / "student.txt", folder / STUDENT_REQUIREMENTS)


def _nbgrader(course: CourseDir, command: str, assignment: str, stage: Path, *extra: str) -> None:
    proc = run_nbgrader(
        course.root, command, assignment, "--force",
        f"--CourseDirectory.root={course.root}",
        f"--CourseDirectory.release_directory={stage / 'release'}",
        f"--CourseDirectory.solution_directory={stage / 'solutions'}",
        f"--CourseDirectory.db_url=sqlite:///{stage / 'gradebook.db'}",
        *extra,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"nbgrader {command} {assignment} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def _canonicalise(folder: Path) -> None:
    for path in folder.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("jupytext", None)
        path.write_bytes(notebook_bytes(nb))


def generate(course: CourseDir, assignment: str, stage: Path, *, execute: bool = True) -> tuple[Path, Path]:
    """Regenerate the source notebook and run nbgrader into ``stage``; return (release, solutions) dirs.
    ``execute=False``: the solution notebook is written without running it (no outputs), for a
    comparison that ignores outputs anyway."""
    if not (course.source / assignment / f"{assignment}.md").exists():
        raise BuildError(f"no source/{assignment}/{assignment}.md")
    stage_source(course, assignment)
    _nbgrader(course, "generate_assignment", assignment, stage)
    _nbgrader(course, "generate_solution", assignment, stage, *(() if execute else ("--Execute.enabled=False",)))
    release, solutions = stage / "release" / assignment, stage / "solutions" / assignment
    _canonicalise(release)
    _canonicalise(solutions)
    return release, solutions
