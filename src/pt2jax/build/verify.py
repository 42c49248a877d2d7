"""Verify before release: the solution scores full marks (and its visible self-checks pass), the stub
scores zero; only then are release/ and solutions/ replaced."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..config import CourseDir
from .generate import BuildError, generate

__all__ = ["BuildResult", "build_assignment", "format_build"]


@dataclass
class BuildResult:
    """What a build produced and what its verification measured."""

    assignment: str
    solution_score: tuple[float, float] | None = None
    stub_score: tuple[float, float] | None = None
    compile_cache: Path | None = None  # warmed by the solution's grade (build/jax-cache/<a>), when verified


def build_assignment(course: CourseDir, assignment: str, *, verify: bool = True, install: bool = True) -> BuildResult:
    """Generate release/ and solutions/ for one assignment; refuse if the solution is not full
    marks or the stub is not zero. ``install=False`` verifies without touching release/ and solutions/."""
    from ..grade.compile_cache import cache_folder, open_for_warming, seal, warm_digest
    from ..grade.pipeline import GradeRequest, grade_notebook

    result = BuildResult(assignment)
    with tempfile.TemporaryDirectory(prefix="pt2jax-build-") as tmp:
        release, solutions = generate(course, assignment, Path(tmp))
        if verify:
            master = release / f"{assignment}.ipynb"
            # the solution's grade warms a compilation cache; the stub (and later the class) reads it
            cache = open_for_warming(Path(tmp) / "jax-cache")
            for label, nb_path in (("solution", solutions / f"{assignment}.ipynb"), ("stub", master)):
                report = grade_notebook(GradeRequest(
                    notebook=nb_path, assignment=assignment, course=course, seed=0,
                    student_id=f"build-{label}", master=master, compile_cache=cache,
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
                    cache = seal(cache.path, warm_digest(solutions / f"{assignment}.ipynb", master))
                else:
                    result.stub_score = score
                    if report.score != 0:
                        passed = [r.name for r in report.results if r.passed]
                        raise BuildError(
                            f"{assignment}: the released stub scores {score[0]:g}; not released."
                            f" Checks passing on the stub: {', '.join(passed)}"
                        )
            result.compile_cache = cache_folder(course, assignment)
            shutil.rmtree(result.compile_cache, ignore_errors=True)
            result.compile_cache.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(cache.path, result.compile_cache)
        for produced, dest in ((release, course.release / assignment), (solutions, course.solutions / assignment)):
            if not install:
                break
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(produced, dest)
    return result


def format_build(result: BuildResult) -> str:
    """The one-line verdict printed by `pt2jax build` and `pt2jax demo`."""
    if result.solution_score is None or result.stub_score is None:
        return "  generated (not verified)"
    (sol, sol_max), (stub, stub_max) = result.solution_score, result.stub_score
    return f"  solution {sol:g}/{sol_max:g}, stub {stub:g}/{stub_max:g}"
