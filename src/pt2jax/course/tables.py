"""Human-readable grade reports (one notebook, or a class as a table)."""

from __future__ import annotations

from collections.abc import Sequence

from ..nbmeta import exercise_of
from ..results import GradeReport

__all__ = ["format_report", "format_table"]


def format_report(report: GradeReport) -> str:
    """One notebook's result: per cell, then flags and errors."""
    lines = [f"{report.assignment} — {report.student_id}: {report.score:g} / {report.max_score:g}"]
    for gid, (score, max_points) in report.cell_scores.items():
        mark = "✔" if score == max_points else ("~" if score > 0 else "✘")
        lines.append(f"  {mark} {gid:<40} {score:g}/{max_points:g}")
    lines += [f"  ! {f.kind}: {f.message}" for f in report.flags]
    lines += [f"  error: {e}" for e in report.errors]
    return "\n".join(lines)


def _label(grade_id: str) -> str:
    """Column label: the exercise number (``ex07_step_noise_check`` -> ``ex07``)."""
    return exercise_of(grade_id) or grade_id.removesuffix("_check")


def format_table(rows: Sequence[tuple[str, dict[str, tuple[float, float]], list[str]]]) -> str:
    """A student × exercise table; each row is (student, {grade_id: (score, max)}, flags)."""
    cells: list[str] = []
    for _, scores, _ in rows:
        cells += [g for g in scores if g not in cells]
    labels = [_label(g) for g in cells]
    widths = [max(len(lab), 5) for lab in labels]
    name_w = max([len(s) for s, _, _ in rows] + [7])
    head = f"{'student':<{name_w}} " + " ".join(f"{lab:>{w}}" for lab, w in zip(labels, widths, strict=True))
    head += f" {'total':>7}  flags"
    lines = [head, "-" * len(head)]
    for student, scores, flags in rows:
        vals = [scores.get(g) for g in cells]
        row = " ".join(f"{f'{v[0]:g}/{v[1]:g}' if v else '-':>{w}}" for v, w in zip(vals, widths, strict=True))
        total = f"{sum(v[0] for v in vals if v):g}/{sum(v[1] for v in vals if v):g}"
        lines.append(f"{student:<{name_w}} {row} {total:>7}  {', '.join(flags)}")
    legend = ", ".join(f"{lab} = {g.removesuffix('_check')}" for lab, g in zip(labels, cells, strict=True)
                       if lab != g.removesuffix("_check"))
    return "\n".join(lines + ([f"({legend})"] if legend else []))
