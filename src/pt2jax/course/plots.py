"""Plots an instructor would rather look at than read."""

from __future__ import annotations

from pathlib import Path

from ..results import ClassReport

__all__ = ["grade_histogram"]


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
