"""A persistent JAX compilation cache for grading: written only while the trusted solution is graded,
read-only in every student's sandbox.

Most of a notebook's grading time is XLA compiling (docs/benchmarks.md). JAX can keep compiled
executables on disk, keyed by the computation, the compile options, the device and the jax version:
a submission that runs the same computation as the solution (locked cells, the kit, set-up code and
answers written like the solution's) loads it instead of compiling it again.

A cache a submission could write would be a channel from one student's grade into another's (an
executable planted under a key the next student computes), so students never get write access: the
folder is bind-mounted read-only into the sandbox, and the kernel is told to write nothing (JAX only
writes entries that took at least ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` to compile: an
impossible bound, so a miss does not even try and prints no warning). The cache is written in one
way only: :func:`warm`, which grades the solution with the folder mounted read-write.
A stale cache is harmless: a key that no longer matches is a miss, never a wrong result.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..config import CourseDir
from .sandbox import NOBODY

__all__ = ["WARM_MARK", "CompileCache", "cache_folder", "open_for_warming", "seal", "solution_notebook", "warm",
           "warm_digest"]

WARM_MARK = ".pt2jax-warm"  # what warmed the cache (a digest of the solution and the jax version)
_NEVER_S = "1e9"  # the kernel's minimum compile time for writing an entry, when it may not write


@dataclass(frozen=True)
class CompileCache:
    """The cache folder a grade uses, and whether this grade may write it (only the solution's)."""

    path: Path
    writable: bool = False

    def kernel_env(self) -> dict[str, str]:
        """The kernel's environment variables (JAX reads its options from them at import)."""
        return {
            "JAX_COMPILATION_CACHE_DIR": str(self.path),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0" if self.writable else _NEVER_S,
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        }

    def mounts(self) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
        """(read-only, read-write) folders of the sandbox: read-write only for the solution's grade."""
        return ((), (self.path,)) if self.writable else ((self.path,), ())

    def usable(self) -> bool:
        """Whether there is a warmed cache to read (a missing one is no error: it is slower, not wrong)."""
        return self.writable or (self.path / WARM_MARK).exists()


def cache_folder(course: CourseDir, assignment: str) -> Path:
    """``build/jax-cache/<assignment>`` in the course (not committed: remade by :func:`warm`)."""
    return course.root / "build" / "jax-cache" / assignment


def solution_notebook(course: CourseDir, assignment: str) -> Path | None:
    """The solution: ``solutions/<a>/<a>.ipynb`` (this repository's layout), else nbgrader's source
    notebook (the instructor's version, answers included), else None."""
    for path in (course.solutions / assignment / f"{assignment}.ipynb",
                 course.source / assignment / f"{assignment}.ipynb"):
        if path.is_file():
            return path
    return None


def warm_digest(solution: Path, master: Path) -> str:
    """What a warmed cache was warmed from: the jax version, the solution and the released notebook."""
    from importlib.metadata import version  # not `import jax`: the versions without its start-up

    h = hashlib.sha256(f"jax {version('jax')} jaxlib {version('jaxlib')}\n".encode())
    for path in (solution, master):
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


def open_for_warming(folder: Path) -> CompileCache:
    """An empty cache folder the solution's grade may write (the sandbox's user owns it meanwhile)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if os.geteuid() == 0:
        os.chown(folder, NOBODY, NOBODY)
    return CompileCache(folder, writable=True)


def seal(folder: Path, digest: str | None) -> CompileCache:
    """After the solution's grade: nobody but the grader may change the folder (entries owned by the
    grader, not writable by others, links removed); ``digest`` (:func:`warm_digest`) marks it warm,
    None leaves it unmarked (the solution's grade failed: not to be trusted as warm)."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            path.unlink()
    for path in (folder, *folder.rglob("*")):
        if os.geteuid() == 0:
            os.chown(path, 0, 0)
        path.chmod(0o755 if path.is_dir() else 0o644)
    if digest is not None:
        (folder / WARM_MARK).write_text(digest + "\n")
    return CompileCache(folder)


def warm(course: CourseDir, assignment: str, seed: int, *, folder: Path | None = None) -> CompileCache | None:
    """The read-only cache of ``assignment``, warmed first by grading the solution with it writable
    unless the same solution and jax already warmed it; None when the course has no solution or the
    solution did not score full marks (then nothing is trusted as warm).

    The solution is graded like every submission, by ``pt2jax grade`` in its own process (the
    ``--warm-cache`` flag), not in the caller's: a batch's client holds sockets and threads a
    grade's pytest must not see."""
    import subprocess
    import sys

    from ..config import tool_env

    solution = solution_notebook(course, assignment)
    if solution is None:
        return None
    folder = folder or cache_folder(course, assignment)
    digest = warm_digest(solution, course.master(assignment))
    if _warmed(folder, digest):
        return CompileCache(folder)
    cmd = [sys.executable, "-m", "pt2jax", "--course", str(course.root), "grade", str(solution),
           "--assignment", assignment, "--seed", str(seed), "--student", "pt2jax-solution", "--json",
           "--compile-cache", str(folder), "--warm-cache"]
    try:
        subprocess.run(cmd, cwd=course.root, env=tool_env(), capture_output=True, text=True,
                       timeout=course.limits.grade_timeout_s + 120)
    except subprocess.TimeoutExpired:
        return None
    return CompileCache(folder) if _warmed(folder, digest) else None


def _warmed(folder: Path, digest: str) -> bool:
    mark = folder / WARM_MARK
    return mark.exists() and mark.read_text().strip() == digest
