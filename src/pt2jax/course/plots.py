"""Plots an instructor would rather look at than read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..results import ClassReport

if TYPE_CHECKING:
    from .stats import ExerciseStats

__all__ = ["difficulty_chart", "grade_histogram"]


def grade_histogram(report: ClassReport, path: Path) -> Path:
    """Save a histogram of total scores and a per-exercise success bar chart to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    totals = [sum(s for s, _ in scores.values()) for _, scores, _ in report.rows]
    top = max((sum(m for _, m in scores.values()) for _, scores, _ in report.rows), default=1.0)
    cells: list[str] = []
    for _, scores, _ in report.rows:
        cells += [g for g in scores if g not in cells]
    rate = [
        sum(scores[g][0] for _, scores, _ in report.rows if g in scores)
        / max(sum(scores[g][1] for _, scores, _ in report.rows if g in scores), 1e-9)
        for g in cells
    ]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.hist(totals, bins=min(10, max(len(totals), 1)), range=(0, top), color="#4C72B0")
    from matplotlib.ticker import MaxNLocator

    ax1.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set(title=f"{report.assignment}: total scores", xlabel=f"points (of {top:g})", ylabel="students")
    ax2.barh([g.removesuffix("_check") for g in cells], [100 * r for r in rate], color="#55A868")
    ax2.set(title="share of points earned per exercise", xlabel="%", xlim=(0, 100))
    ax2.invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def difficulty_chart(assignment: str, stats: list[ExerciseStats], path: Path) -> Path:
    """Save a per-exercise difficulty chart to ``path`` (PNG): for each graded cell, the mean share of
    its points and the share of full marks, hardest first, labelled with the commonest hint among the
    submissions that missed points (what to explain again in class)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(stats, key=lambda s: (s.mean / s.max_score if s.max_score else 1.0, s.full_share))
    names = [s.grade_id.removesuffix("_check") for s in rows]
    mean = [100 * s.mean / s.max_score if s.max_score else 0.0 for s in rows]
    full = [100 * s.full_share for s in rows]
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(rows) + 1.4))
    y = range(len(rows))
    ax.barh([i - 0.2 for i in y], mean, height=0.4, color="#4C72B0", label="mean share of points")
    ax.barh([i + 0.2 for i in y], full, height=0.4, color="#55A868", label="share with full marks")
    for i, s in enumerate(rows):
        if s.common_hint:
            ax.text(101, i, f"{s.common_hint[:60]} ({s.hint_count}×)", va="center", fontsize=8, color="#444")
    ax.set_yticks(list(y), names)
    ax.set(title=f"{assignment}: exercises, hardest first", xlabel="% of submissions / of points", xlim=(0, 100))
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path
