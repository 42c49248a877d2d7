"""Build: jupytext round trip, byte-reproducible generation, freshness of release/ and solutions/,
no solution text released, and refusal to release a broken assignment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jupytext
import pytest
from conftest import FIXTURE_COURSE, REPO, TINY, make_course

from pt2jax.build import (
    BuildError,
    build_assignment,
    generate,
    md_to_notebook,
    notebook_bytes,
    stage_source,
    strip_outputs,
)
from pt2jax.build.generate import kit_file_text, kit_modules_used
from pt2jax.config import CourseDir

REPO_COURSE = CourseDir(REPO)
SOURCES = sorted(REPO.glob("source/*/*.md")) + sorted(FIXTURE_COURSE.glob("source/*/*.md"))


@pytest.mark.parametrize("md", SOURCES, ids=[p.stem for p in SOURCES])
def test_jupytext_round_trip_keeps_nbgrader_metadata(md: Path, tmp_path: Path) -> None:
    nb = md_to_notebook(md)
    again = jupytext.reads(jupytext.writes(nb, fmt="md:myst"), fmt="md:myst")
    assert len(again.cells) == len(nb.cells)
    graded = 0
    for a, b in zip(nb.cells, again.cells, strict=True):
        assert a.cell_type == b.cell_type and a.source == b.source
        assert a.metadata.get("nbgrader") == b.metadata.get("nbgrader")
        for key in ("deletable", "editable"):
            assert a.metadata.get(key) == b.metadata.get(key)
        graded += "nbgrader" in a.metadata
    assert graded > 0


@pytest.mark.parametrize("md", SOURCES, ids=[p.stem for p in SOURCES])
def test_cell_ids_are_deterministic_and_unique(md: Path) -> None:
    a, b = md_to_notebook(md), md_to_notebook(md)
    ids = [c["id"] for c in a.cells]
    assert ids == [c["id"] for c in b.cells] and len(set(ids)) == len(ids)
    assert notebook_bytes(a) == notebook_bytes(b)


@pytest.mark.parametrize("assignment", REPO_COURSE.assignments())
def test_release_and_solutions_are_fresh(assignment: str, tmp_path: Path) -> None:
    release, solutions = generate(REPO_COURSE, assignment, tmp_path, execute=False)
    committed_release = REPO_COURSE.release / assignment
    names = sorted(p.name for p in release.iterdir())
    assert names == sorted(p.name for p in committed_release.iterdir()), "run `make build`"
    for name in names:
        assert (release / name).read_bytes() == (committed_release / name).read_bytes(), \
            f"release/{assignment}/{name} is stale: run `make build`"
    committed_solutions = REPO_COURSE.solutions / assignment
    names = sorted(p.name for p in solutions.iterdir())
    assert names == sorted(p.name for p in committed_solutions.iterdir()), "run `make build`"
    for path in solutions.iterdir():
        if path.suffix == ".ipynb":  # solutions/ holds the executed notebook: compare without outputs
            fresh = strip_outputs(json.loads(path.read_text()))
            committed = strip_outputs(json.loads((committed_solutions / path.name).read_text()))
        else:
            fresh, committed = path.read_bytes(), (committed_solutions / path.name).read_bytes()
        assert fresh == committed, f"solutions/{assignment}/{path.name} is stale: run `make build`"


def _solution_lines(md: Path) -> list[str]:
    """Lines found only inside solution blocks (a line also shown elsewhere is not a secret)."""
    secret, public, inside = [], set(), False
    for line in md.read_text().splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside:
            secret.append(line.strip())
        else:
            public.add(line.strip())
    return [line for line in secret if len(line) > 12 and line not in public]


@pytest.mark.parametrize("assignment", REPO_COURSE.assignments())
def test_release_holds_no_solution_text(assignment: str) -> None:
    released = REPO_COURSE.release / assignment
    assert not list(released.glob("*.md")), "the jupytext source (with solutions) was released"
    assert not (released / "autograder").exists()
    text = "\n".join(p.read_text() for p in released.iterdir() if p.is_file())
    assert "BEGIN SOLUTION" not in text
    released_lines = set()
    for path in released.glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            released_lines |= {line.strip() for line in "".join(cell["source"]).splitlines()}
    leaked = [line for line in _solution_lines(REPO_COURSE.source / assignment / f"{assignment}.md")
              if line in released_lines]
    assert not leaked, f"solution lines in release/: {leaked[:5]}"
    checks = "\n".join(p.read_text() for p in (REPO_COURSE.autograder / assignment).glob("*.py"))
    assert "@graded(" in checks and "@graded(" not in text


@pytest.mark.parametrize("assignment", REPO_COURSE.assignments())
def test_release_ships_exactly_the_kit_modules_it_imports(assignment: str) -> None:
    for folder in (REPO_COURSE.release / assignment, REPO_COURSE.solutions / assignment):
        used = kit_modules_used(md_to_notebook(REPO_COURSE.source / assignment / f"{assignment}.md"))
        assert "check.py" in used, "every notebook imports the self-check kit (pt2jax_check)"
        assert sorted(p.name for p in folder.glob("pt2jax_*.py")) == sorted(used.values())
        for module, shipped in used.items():
            assert (folder / shipped).read_text() == kit_file_text(module)
        assert (folder / "requirements.txt").read_text() == (REPO / "requirements/student.txt").read_text()


def test_kit_modules_ship_only_where_imported(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    md = course.source / TINY / f"{TINY}.md"
    stage_source(course, TINY)
    assert not (course.source / TINY / "pt2jax_fastconv.py").exists()
    imports = "import pt2jax_fastconv\nfrom pt2jax_check import"
    md.write_text(md.read_text().replace("from pt2jax_check import", imports, 1))
    stage_source(course, TINY)
    assert (course.source / TINY / "pt2jax_fastconv.py").read_text() == kit_file_text("fastconv.py")
    md.write_text(md.read_text().replace("import pt2jax_fastconv\n", "# import pt2jax_fastconv\n", 1))
    stage_source(course, TINY)  # a comment is not an import: the stale copy goes
    assert not (course.source / TINY / "pt2jax_fastconv.py").exists()


def _broken_course(tmp_path: Path, old: str, new: str) -> CourseDir:
    course = make_course(tmp_path / "course")
    md = course.source / TINY / f"{TINY}.md"
    assert old in md.read_text()
    md.write_text(md.read_text().replace(old, new))
    return course


def test_build_refuses_a_solution_without_full_marks(tmp_path: Path) -> None:
    course = _broken_course(tmp_path, "    return x + 1\n", "    return x + 2\n")
    with pytest.raises(BuildError, match="the solution scores 2/3"):
        build_assignment(course, TINY)
    assert not (course.release / TINY).exists()


def test_build_refuses_a_stub_that_scores(tmp_path: Path) -> None:
    # an answer left in an ordinary (unmarked) cell survives into the student's copy
    end = "    return jnp.arange(n)\n    ### END SOLUTION\n```\n"
    course = _broken_course(tmp_path, end, end + "\n```{code-cell} ipython3\nint_range = jnp.arange\n```\n")
    with pytest.raises(BuildError, match="the released stub scores 2"):
        build_assignment(course, TINY)
    assert not (course.release / TINY).exists()


def test_build_then_regenerate_is_byte_identical(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    first, _ = generate(course, TINY, tmp_path / "a")
    shutil.copytree(first, tmp_path / "first")
    second, _ = generate(course, TINY, tmp_path / "b")
    for path in (tmp_path / "first").iterdir():
        assert path.read_bytes() == (second / path.name).read_bytes()


def test_build_refuses_a_solution_whose_self_check_fails(tmp_path: Path) -> None:
    course = _broken_course(tmp_path, "check_array(add_one(jnp.arange(3.0)), jnp.arange(1.0, 4.0))",
                            "check_array(add_one(jnp.arange(3.0)), jnp.arange(2.0, 5.0))")
    with pytest.raises(BuildError, match=r"(?s)self-checks fail.*ex01_add_one_check"):
        build_assignment(course, TINY)
    assert not (course.release / TINY).exists()


def test_sample_submissions_are_fresh(tmp_path: Path) -> None:
    """examples/submissions/ is generated from solutions/, release/ and tests/variants/."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_submissions", REPO / "examples" / "make_submissions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    committed = REPO / "examples" / "submissions"
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert fresh == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file()), \
        "run .venv/bin/python examples/make_submissions.py"
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (committed / rel).read_bytes(), f"examples/submissions/{rel} is stale"


def test_a_draft_assignment_is_left_out_of_the_course(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    assert course.assignments() == [TINY]
    (course.source / TINY / "DRAFT").write_text("not ready\n")
    assert course.assignments() == []
