"""The grading compilation cache: warmed by the solution, read by students, never written by them."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import nbformat
import pytest
from conftest import TINY, grade

from pt2jax.config import CourseDir
from pt2jax.grade.compile_cache import WARM_MARK, CompileCache, cache_folder, warm

# a submission that counts the cache hits of its own compilations and attacks the cache folder
PROBE = """
import os, json, jax, jax.numpy as jnp
from jax import monitoring
_events = []
monitoring.register_event_listener(lambda name, **kw: _events.append(name))
(jnp.arange(3.0) + 1).block_until_ready()  # computations the solution ran too (its ex01 check)
jnp.arange(1.0, 4.0).block_until_ready()
_folder = os.environ["JAX_COMPILATION_CACHE_DIR"]
_attacks = {}
for _name, _act in [("new entry", lambda: open(os.path.join(_folder, "planted-cache"), "wb").write(b"x")),
                    ("overwrite", lambda: open(os.path.join(_folder, sorted(os.listdir(_folder))[0]),
                                               "r+b").write(b"x")),
                    ("delete", lambda: os.remove(os.path.join(_folder, sorted(os.listdir(_folder))[0]))),
                    ("chmod", lambda: os.chmod(_folder, 0o777))]:
    try:
        _act()
        _attacks[_name] = "done"
    except OSError as exc:
        _attacks[_name] = type(exc).__name__
print("PT2JAX-CACHE", json.dumps({"folder": _folder, "hits": _events.count("/jax/compilation_cache/cache_hits"),
                                  "attacks": _attacks}))
"""


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        h.update(f"{path.relative_to(folder)} {st.st_mode:o} {st.st_uid}\n".encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def warmed(tiny_course: CourseDir) -> CompileCache:
    cache = warm(tiny_course, TINY, seed=3)
    assert cache is not None
    return cache


def test_the_solution_warms_a_sealed_cache(tiny_course: CourseDir, warmed: CompileCache) -> None:
    assert warmed.path == cache_folder(tiny_course, TINY) and not warmed.writable
    entries = [p for p in warmed.path.iterdir() if p.name != WARM_MARK]
    assert entries, "grading the solution wrote no compiled executable"
    for path in (warmed.path, *entries):
        st = path.stat()
        assert st.st_uid == os.geteuid() and not st.st_mode & 0o022, (path, oct(st.st_mode))
    before = _tree_digest(warmed.path)
    assert warm(tiny_course, TINY, seed=3) == warmed  # same solution, same jax: not graded again
    assert _tree_digest(warmed.path) == before


def test_a_submission_reads_the_cache_and_cannot_change_it(tiny_course: CourseDir, warmed: CompileCache,
                                                            tmp_path: Path) -> None:
    before = _tree_digest(warmed.path)
    nb = nbformat.read(tiny_course.master(TINY), as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(PROBE))
    path = tmp_path / f"{TINY}.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "graded.ipynb"
    report = grade(tiny_course, path, TINY, student="mallory",
                   extra=("--compile-cache", str(warmed.path), "--output-notebook", str(out)))
    assert report["score"] == 0  # the stub's answers
    text = "".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    seen = json.loads(text.split("PT2JAX-CACHE", 1)[1].splitlines()[0])
    assert seen["folder"] == str(warmed.path)
    assert seen["hits"] > 0, "the submission compiled everything again: the warmed cache was not read"
    assert "done" not in seen["attacks"].values(), seen["attacks"]
    assert _tree_digest(warmed.path) == before, "a submission changed the shared compilation cache"
