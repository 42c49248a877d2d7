"""Class-level work in a real nbgrader course directory: autograde (resumable), feedback, export, demo."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .config import Course, tool_env
from .errors import GradingError
from .gradebook import flags_of_report, post_flags

__all__ = ["ClassReport", "autograde", "class_report", "demo", "nbgrader"]

DONE_MARK = ".pt2jax-done"


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an nbgrader command in course ``root``; raise GradingError with its log on failure."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root,
                          capture_output=True, text=True, env=tool_env())
    if proc.returncode != 0:
        raise GradingError(f"nbgrader {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return proc


def _students(root: Path, assignment: str) -> list[str]:
    sub = root / "submitted"
    return sorted(p.parent.name for p in sub.glob(f"*/{assignment}") if p.is_dir())


def autograde(root: Path, assignment: str, *, force: bool = False, progress: bool = True) -> list[str]:
    """Autograde every submission of ``assignment``, one student at a time.

    A student whose grading finished (marker file written after nbgrader returned) is skipped, so a
    killed batch resumes where it stopped; a half-written autograded folder is regraded with --force.
    Returns the students graded in this run.
    """
    from tqdm import tqdm

    graded = []
    students = _students(root, assignment)
    for student in tqdm(students, desc=f"autograde {assignment}", unit="student", disable=not progress):
        done = root / "autograded" / student / assignment / DONE_MARK
        if done.exists() and not force:
            continue
        _set_aside_unreadable(root, assignment, student)
        _scan_submitted(root, assignment, student)
        log = root / "reports" / assignment / f"{student}.nbgrader.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        proc = _nbgrader_autograde(root, assignment, student, log)
        if proc.returncode != 0 and _normalize_submission(root, assignment, student):
            proc = _nbgrader_autograde(root, assignment, student, log)
        if proc.returncode == 0 and done.parent.is_dir():
            post_flags(root, assignment, student, _all_flags(root, assignment, student))
            # the marker is written last: only now does this submission count as graded
            done.write_text(datetime.now(UTC).isoformat() + "\n")
            graded.append(student)
        else:
            tqdm.write(f"  {student}: nbgrader could not autograde this submission (see {log})")
    return graded


def _nbgrader_autograde(root: Path, assignment: str, student: str, log: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", student, "--force"],
        cwd=root, capture_output=True, text=True, env=tool_env(),
    )
    with log.open("a") as fh:
        fh.write(proc.stdout + proc.stderr)
    return proc


def _submitted_notebooks(root: Path, assignment: str, student: str) -> Iterator[tuple[Path, Path, Path]]:
    """(submitted notebook, its released master, where the original is kept if it was normalized)
    for every submitted notebook that belongs to the assignment."""
    for path in sorted((root / "submitted" / student / assignment).glob("*.ipynb")):
        master = root / "release" / assignment / path.name
        if master.exists():
            yield path, master, path.with_name(path.name + ".original")


def _normalize_submission(root: Path, assignment: str, student: str) -> bool:
    """nbgrader refused the notebook as submitted (odd metadata, duplicated cells...): keep the
    original beside it and put in its place the notebook our restore step builds from it (the
    student's answers in the master's cells). Returns whether anything was normalized."""
    import nbformat

    from .restore import read_notebook, restore

    note = root / "reports" / assignment / f"{student}.normalized"
    if note.exists():
        return False  # normalized once already: do not loop
    changed = []
    for path, master, original in _submitted_notebooks(root, assignment, student):
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


def _set_aside_unreadable(root: Path, assignment: str, student: str) -> None:
    """nbgrader stops on a notebook it cannot parse: keep the file (renamed) and submit the released
    stub with a note in its place, so the student gets 0 with a clear message and nothing is lost."""
    import nbformat

    from .restore import read_notebook

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
        note = root / "reports" / assignment / f"{student}.unreadable"
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(f"{path.name}: {reason}\n")


def _scan_submitted(root: Path, assignment: str, student: str) -> None:
    """Restore-step flags of the notebook as submitted: nbgrader's sanitizing (duplicate ids removed,
    locked cells overwritten) would otherwise hide what the student did to the cells."""
    import nbformat

    from .restore import read_notebook, restore

    flags = []
    for path, master, original in _submitted_notebooks(root, assignment, student):
        try:
            result = restore(read_notebook(original if original.exists() else path),
                             nbformat.read(master, as_version=4))
        except Exception:
            continue  # unreadable files are handled by _set_aside_unreadable
        flags += [f.__dict__ for f in result.flags]
    out = root / "reports" / assignment / f"{student}.submitted.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(flags, indent=1))


def _all_flags(root: Path, assignment: str, student: str) -> list[dict[str, object]]:
    """Flags of the graded run and of the submission as sent, without repeats."""
    reports = root / "reports" / assignment
    flags = flags_of_report(reports / f"{student}.json")
    with contextlib.suppress(OSError, json.JSONDecodeError):
        flags += json.loads((reports / f"{student}.submitted.json").read_text())
    for suffix, kind in ((".unreadable", "invalid_notebook"), (".normalized", "normalized")):
        note = reports / f"{student}{suffix}"
        if note.exists():
            flags.append({"kind": kind, "message": note.read_text().strip(), "grade_id": None})
    unique = {(f["kind"], f["message"]): f for f in flags}
    return list(unique.values())


@dataclass
class ClassReport:
    """Scores per student and grade cell, read from nbgrader's gradebook, plus pt2jax flags."""

    assignment: str
    rows: list[tuple[str, dict[str, tuple[float, float]], list[str]]]


def class_report(root: Path, assignment: str) -> ClassReport:
    """Read the gradebook (nbgrader's, the source of truth for scores) and the pt2jax reports."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        students = sorted(s.id for s in gb.students)
        nb_names = [n.name for n in gb.find_assignment(assignment).notebooks]
        for student in students:
            scores: dict[str, tuple[float, float]] = {}
            try:
                for name in nb_names:
                    sub = gb.find_submission_notebook(name, assignment, student)
                    for grade in sorted(sub.grades, key=lambda g: g.cell.id):
                        scores[grade.name] = (float(grade.score), float(grade.max_score))
            except MissingEntry:
                continue
            rows.append((student, _in_notebook_order(root, assignment, scores),
                         _flags(root, assignment, student)))
    return ClassReport(assignment, rows)


def _in_notebook_order(
    root: Path, assignment: str, scores: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    import nbformat

    order: list[str] = []
    for path in sorted((root / "release" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        order += [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells]
    rank = {g: i for i, g in enumerate(order)}
    return dict(sorted(scores.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def _flags(root: Path, assignment: str, student: str) -> list[str]:
    if not (root / "reports" / assignment / f"{student}.json").exists():
        return ["not graded"]
    return sorted({str(f["kind"]) for f in _all_flags(root, assignment, student)})


def _make_demo_course(repo: Course, dest: Path, assignments: list[str]) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in ("nbgrader_config.py", "pyproject.toml"):
        shutil.copy(repo.root / name, dest / name)
    from .build import stage_source

    for assignment in assignments:
        stage_source(repo, assignment)
        shutil.copytree(repo.source / assignment, dest / "source" / assignment,
                        ignore=shutil.ignore_patterns("*.md", ".ipynb_checkpoints"))
        shutil.copytree(repo.autograder / assignment, dest / "autograder" / assignment,
                        ignore=shutil.ignore_patterns("__pycache__"))


def demo(repo: Course, out: Path, *, build: bool = True) -> str:
    """Build the course, then grade examples/submissions through a fresh nbgrader course in ``out``.

    Returns the printed report text (a table per assignment).
    """
    from .build import build_assignment
    from .plots import grade_histogram
    from .report import format_table

    examples = repo.root / "examples" / "submissions"
    assignments = [a for a in repo.assignments() if any(examples.glob(f"*/{a}/*.ipynb"))]
    if not assignments:
        raise GradingError(f"no sample submissions under {examples}")
    for assignment in assignments:
        if build:
            print(f"building {assignment}: the solution must score full marks and the stub zero ...", flush=True)
            result = build_assignment(repo, assignment, install=False)
            assert result.solution_score and result.stub_score
            print(f"  solution {result.solution_score[0]:g}/{result.solution_score[1]:g},"
                  f" stub {result.stub_score[0]:g}/{result.stub_score[1]:g}", flush=True)
    course = out / "course"
    _make_demo_course(repo, course, assignments)
    texts = []
    for assignment in assignments:
        nbgrader(course.resolve(), "generate_assignment", assignment, "--force")
        for sub in sorted(examples.glob(f"*/{assignment}")):
            dest = course / "submitted" / sub.parent.name / assignment
            shutil.copytree(sub, dest)
            (dest / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC\n")
        autograde(course.resolve(), assignment)
        nbgrader(course.resolve(), "generate_feedback", assignment, "--force")
        nbgrader(course.resolve(), "export", "--to", str((out / "grades.csv").resolve()))
        report = class_report(course, assignment)
        plot = grade_histogram(report, out / f"grades_{assignment}.png")
        texts.append(f"\n== {assignment}: {len(report.rows)} submissions ==\n{format_table(report.rows)}\n"
                     f"feedback: {course / 'feedback'}\ngrades:   {out / 'grades.csv'}\nplot:     {plot}")
    return "\n".join(texts)
