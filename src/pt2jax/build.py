"""Build: source/*.md → source/*.ipynb → release/ and solutions/ (via nbgrader), verified before release."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from .config import Course, tool_env
from .errors import GradingError

__all__ = [
    "BuildError",
    "build_assignment",
    "generate",
    "md_to_notebook",
    "notebook_bytes",
    "strip_outputs",
]

STUDENT_HELPER = "pt2jax_check.py"
# Standalone modules of this package shipped beside every released notebook: {module file: shipped name}.
STUDENT_MODULES = {"studentkit.py": STUDENT_HELPER, "fastconv.py": "pt2jax_fastconv.py"}
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
    """A copy without outputs and execution counts (solutions are compared this way)."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    return nb


def stage_source(course: Course, assignment: str) -> None:
    """Write source/<a>/<a>.ipynb from the .md, and the helper files nbgrader ships beside it."""
    folder = course.source / assignment
    nb = md_to_notebook(folder / f"{assignment}.md")
    (folder / f"{assignment}.ipynb").write_bytes(notebook_bytes(nb))
    for module, shipped in STUDENT_MODULES.items():
        text = Path(__file__).with_name(module).read_text()
        (folder / shipped).write_text(f"# Generated from src/pt2jax/{module} by `pt2jax build`: do not edit.\n" + text)
    shutil.copy(course.root / "requirements" / "student.txt", folder / STUDENT_REQUIREMENTS)


def _nbgrader(course: Course, command: str, assignment: str, stage: Path) -> None:
    args = [
        sys.executable, "-m", "nbgrader", command, assignment, "--force",
        f"--CourseDirectory.root={course.root}",
        f"--CourseDirectory.release_directory={stage / 'release'}",
        f"--CourseDirectory.solution_directory={stage / 'solutions'}",
        f"--CourseDirectory.db_url=sqlite:///{stage / 'gradebook.db'}",
    ]
    proc = subprocess.run(args, cwd=course.root, capture_output=True, text=True, env=tool_env())
    if proc.returncode != 0:
        raise BuildError(f"nbgrader {command} {assignment} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def _canonicalise(folder: Path) -> None:
    for path in folder.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("jupytext", None)
        path.write_bytes(notebook_bytes(nb))


def generate(course: Course, assignment: str, stage: Path) -> tuple[Path, Path]:
    """Regenerate the source notebook and run nbgrader into ``stage``; return (release, solutions) dirs."""
    if not (course.source / assignment / f"{assignment}.md").exists():
        raise BuildError(f"no source/{assignment}/{assignment}.md")
    stage_source(course, assignment)
    _nbgrader(course, "generate_assignment", assignment, stage)
    _nbgrader(course, "generate_solution", assignment, stage)
    release, solutions = stage / "release" / assignment, stage / "solutions" / assignment
    _canonicalise(release)
    _canonicalise(solutions)
    return release, solutions


@dataclass
class BuildResult:
    """What a build produced and what its verification measured."""

    assignment: str
    solution_score: tuple[float, float] | None = None
    stub_score: tuple[float, float] | None = None


def build_assignment(course: Course, assignment: str, *, verify: bool = True, install: bool = True) -> BuildResult:
    """Generate release/ and solutions/ for one assignment; refuse if the solution is not full
    marks or the stub is not zero. ``install=False`` verifies without touching release/ and solutions/."""
    from .pipeline import GradeRequest, grade_notebook

    result = BuildResult(assignment)
    with tempfile.TemporaryDirectory(prefix="pt2jax-build-") as tmp:
        release, solutions = generate(course, assignment, Path(tmp))
        if verify:
            master = release / f"{assignment}.ipynb"
            for label, nb_path in (("solution", solutions / f"{assignment}.ipynb"), ("stub", master)):
                report = grade_notebook(GradeRequest(
                    notebook=nb_path, assignment=assignment, course=course, seed=0,
                    student_id=f"build-{label}", master=master,
                ))
                score = (report.score, report.max_score)
                if label == "solution":
                    result.solution_score = score
                    failed = [f"{r.name}: {r.feedback or r.grader_error}" for r in report.results if not r.passed]
                    if report.score != report.max_score or report.max_score == 0:
                        raise BuildError(
                            f"{assignment}: the solution scores {score[0]:g}/{score[1]:g}; not released.\n"
                            + "\n".join(failed[:10])
                        )
                    broken = [i for i in (report.execution.issues if report.execution else [])
                              if i.grade_id in report.cell_scores]  # a grade cell's self-check raised
                    if broken:
                        raise BuildError(
                            f"{assignment}: the solution's visible self-checks fail; not released.\n"
                            + "\n".join(f"{i.grade_id}: {i.message}" for i in broken)
                        )
                else:
                    result.stub_score = score
                    if report.score != 0:
                        passed = [r.name for r in report.results if r.passed]
                        raise BuildError(
                            f"{assignment}: the released stub scores {score[0]:g}; not released."
                            f" Checks passing on the stub: {', '.join(passed)}"
                        )
        for produced, dest in ((release, course.release / assignment), (solutions, course.solutions / assignment)):
            if not install:
                break
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(produced, dest)
    return result
