"""pt2jax.course.feedback: graded cells named by their exercise in the feedback HTML."""

from __future__ import annotations

from pathlib import Path

import nbformat
import nbgrader

from pt2jax.course.feedback import TEMPLATES, ExerciseTitles, template_dirs


def _grade_cell(gid: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("check(True, 'ok')")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": gid, "points": 1}
    return cell


def test_each_grade_cell_gets_the_heading_above_it() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nintro"), _grade_cell("ex00_check"),
                nbformat.v4.new_markdown_cell("### Exercise 6: explicit keys and `split`\n\nText."),
                nbformat.v4.new_code_cell("def f(): ..."), _grade_cell("ex06_check"), _grade_cell("ex06b_check"),
                nbformat.v4.new_markdown_cell("text, no heading"), _grade_cell("ex07_check")]
    nb, _ = ExerciseTitles()(nb, {})  # as nbconvert calls it (a disabled preprocessor does nothing)
    titles = [c.metadata.get("pt2jax_title") for c in nb.cells]
    assert titles == [None, "Title", None, None, "Exercise 6: explicit keys and split",
                      "Exercise 6: explicit keys and split", None, "Exercise 6: explicit keys and split"]


def test_a_grade_cell_before_any_heading_is_named_by_its_grade_id() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [_grade_cell("ex01_check")]
    nb, _ = ExerciseTitles().preprocess(nb, {})
    assert nb.cells[0].metadata["pt2jax_title"] == "ex01_check"


def test_template_is_nbgraders_with_one_change() -> None:
    """Our copy of nbgrader's feedback template differs only in the table-of-contents label: an nbgrader
    upgrade that changes its template fails here instead of silently losing its fixes."""
    theirs_dir = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates" / "feedback"
    ours = (TEMPLATES / "feedback" / "index.html.j2").read_text().splitlines()
    theirs = (theirs_dir / "index.html.j2").read_text().splitlines()
    assert ours[0].startswith("{#- pt2jax:")
    body = [line for line in ours if not line.startswith("{#-") and "(metadata.pt2jax_title" not in line]
    changed = [(a, b) for a, b in zip(body, theirs, strict=True) if a != b]
    assert len(changed) == 1 and '{{ cell.metadata.pt2jax_title or "Test cell" }}' in changed[0][0]
    assert (TEMPLATES / "feedback" / "conf.json").read_text() == (theirs_dir / "conf.json").read_text()
    assert template_dirs()[0] == str(TEMPLATES)
