"""`pt2jax demo` / `make demo`: build the course, grade the sample class in a fresh nbgrader course,
print the grade table."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..config import CourseDir
from ..errors import GradingError
from ..grade.compile_cache import CompileCache
from ..nbgrader_cmd import run_nbgrader
from .batch import WARM, autograde
from .reports import class_report

__all__ = ["demo"]


def _make_demo_course(repo: CourseDir, dest: Path, assignments: list[str]) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in ("nbgrader_config.py", "pyproject.toml"):
        shutil.copy(repo.root / name, dest / name)
    from ..build.generate import stage_source

    for assignment in assignments:
        stage_source(repo, assignment)
        shutil.copytree(repo.source / assignment, dest / "source" / assignment,
                        ignore=shutil.ignore_patterns("*.md", ".ipynb_checkpoints"))
        shutil.copytree(repo.autograder / assignment, dest / "autograder" / assignment,
                        ignore=shutil.ignore_patterns("__pycache__"))


def demo(repo: CourseDir, out: Path, *, build: bool = True) -> str:
    """Build the course, then grade examples/submissions through a fresh nbgrader course in ``out``.

    Returns the printed report text (a table per assignment).
    """
    from ..build.verify import build_assignment, format_build
    from .plots import difficulty_chart, grade_histogram
    from .stats import exercise_stats, flagged, format_flagged, format_stats
    from .tables import format_table
    from .workflow import export

    examples = repo.root / "examples" / "submissions"
    assignments = [a for a in repo.assignments() if any(examples.glob(f"*/{a}/*.ipynb"))]
    if not assignments:
        raise GradingError(f"no sample submissions under {examples}")
    caches: dict[str, CompileCache | str | None] = dict.fromkeys(assignments, WARM)  # warmed by the solution
    if build:
        # the assignments are verified side by side, one process per core (as the class is graded): each
        # grade is mostly one core's work (the kernel, XLA's compiles)
        workers = max(1, min(len(assignments), os.cpu_count() or 1))
        print(f"building {', '.join(assignments)} ({workers} at a time): each solution must score full marks"
              " and each stub zero ...", flush=True)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            builds = [pool.submit(build_assignment, repo, a, install=False) for a in assignments]
            for done in as_completed(builds):
                result = done.result()
                print(f"  {result.assignment}: {format_build(result).strip()}", flush=True)
                if result.compile_cache is not None:  # warmed by the build's grade of the solution
                    caches[result.assignment] = CompileCache(result.compile_cache)
    course = out / "course"
    _make_demo_course(repo, course, assignments)
    texts = []
    for assignment in assignments:
        run_nbgrader(course.resolve(), "generate_assignment", assignment, "--force")
        for sub in sorted(examples.glob(f"*/{assignment}")):
            dest = course / "submitted" / sub.parent.name / assignment
            shutil.copytree(sub, dest)
            (dest / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC\n")
        # on a LocalCluster (one grading process per core), every sandbox reading the solution's cache
        autograde(course.resolve(), assignment, compile_cache=caches[assignment])
        run_nbgrader(course.resolve(), "generate_feedback", assignment, "--force")
        export(course.resolve(), out / "grades.csv")
        export(course.resolve(), out / "canvas.csv", "canvas")
        report = class_report(course, assignment)
        plot = grade_histogram(report, out / f"grades_{assignment}.png")
        stats = exercise_stats(course, report)
        chart = difficulty_chart(assignment, stats, out / f"difficulty_{assignment}.png")
        review = format_flagged(flagged(course, report))
        texts.append(f"\n== {assignment}: {len(report.rows)} submissions ==\n{format_table(report.rows)}\n"
                     f"\n{format_stats(stats)}\n\nflagged for review:\n{review}\n"
                     f"\nfeedback: {course / 'feedback'}\ngrades:   {out / 'grades.csv'} (Canvas: "
                     f"{out / 'canvas.csv'})\nplots:    {plot}, {chart}")
    return "\n".join(texts)
