"""Human-readable grade reports (one notebook, or a class as a table)."""

from __future__ import annotations

from collections.abc import Sequence

from .pipeline import GradeReport

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


def format_table(rows: Sequence[tuple[str, dict[str, tuple[float, float]], list[str]]]) -> str:
    """A student × exercise table; each row is (student, {grade_id: (score, max)}, flags)."""
    cells: list[str] = []
    for _, scores, _ in rows:
        cells += [g for g in scores if g not in cells]
    short = [g.removesuffix("_check") for g in cells]
    width = max([len(s) for s, _, _ in rows] + [7])
    head = f"{'student':<{width}} " + " ".join(f"{s[:12]:>12}" for s in short) + "   total  flags"
    lines = [head, "-" * len(head)]
    for student, scores, flags in rows:
        vals = [scores.get(g) for g in cells]
        row = " ".join(f"{f'{v[0]:g}/{v[1]:g}':>12}" if v else f"{'-':>12}" for v in vals)
        total = sum(v[0] for v in vals if v)
        top = sum(v[1] for v in vals if v)
        lines.append(f"{student:<{width}} {row}   {total:g}/{top:g}  {', '.join(flags)}")
    return "\n".join(lines)
