"""What an instructor reads after a batch besides the table: per-exercise statistics (mean score,
share of full marks, the most common misconception hint among those who missed points) and the
flagged submissions with their reasons, sorted for review (crashes first, then anti-cheat flags,
then cell edits)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..config import CourseDir
from ..results import ClassReport
from .gradebook import REVIEW_FLAGS
from .reports import all_flags

__all__ = ["ExerciseStats", "exercise_stats", "flagged", "format_flagged", "format_stats"]

# review order: the grade could not happen as meant, then attempts on the grader, then edits
_CRASH = ("grader_error", "invalid_notebook", "kernel_died", "timeout", "memory_limit", "grade_time_limit",
          "disk_limit", "output_limit", "skipped", "unsandboxed")
_CHEAT = ("suspicious_code", "passes_visible_only", "runtime_patched", "locked_rebound", "not_pure_jax",
          "unexpected_type", "fact_disagreement", "active_content", "slow_under_grader", "fails_visible_only")


def _rank(kind: str) -> int:
    if kind in _CRASH:
        return 0
    if kind in _CHEAT:
        return 1
    return 2


@dataclass(frozen=True)
class ExerciseStats:
    """One graded cell across the class."""

    grade_id: str
    max_score: float
    mean: float
    full_share: float  # share of submissions with full marks
    common_hint: str  # the hint (else feedback line) given most often to submissions that lost points
    hint_count: int


def _hints(root: Path, assignment: str, student: str) -> dict[str, list[str]]:
    path = CourseDir(root).report_file(assignment, student)
    try:
        tests = json.loads(path.read_text()).get("tests", [])
    except (OSError, json.JSONDecodeError):
        return {}
    out: dict[str, list[str]] = {}
    for t in tests:
        if t.get("passed"):
            continue
        # the misconception hints a check gave; failing those, the first line of its feedback
        reasons = [str(h) for h in t.get("hints") or []] or [str(t.get("feedback") or "")]
        out.setdefault(str(t.get("grade_id")), []).extend(r.splitlines()[0] for r in reasons if r.strip())
    return out


def exercise_stats(root: Path, report: ClassReport) -> list[ExerciseStats]:
    """Per graded cell of ``report`` (in notebook order): mean, share of full marks, commonest hint."""
    cells: list[str] = []
    for _, scores, _ in report.rows:
        cells += [g for g in scores if g not in cells]
    hints = {s: _hints(root, report.assignment, s) for s, _, _ in report.rows}
    out = []
    for g in cells:
        got = [scores[g] for _, scores, _ in report.rows if g in scores]
        missed = Counter(h for s, scores, _ in report.rows if g in scores and scores[g][0] < scores[g][1]
                         for h in dict.fromkeys(hints[s].get(g, [])))
        common = missed.most_common(1)
        out.append(ExerciseStats(g, max(m for _, m in got), sum(s for s, _ in got) / len(got),
                                 sum(1 for s, m in got if s >= m) / len(got),
                                 common[0][0] if common else "", common[0][1] if common else 0))
    return out


def flagged(root: Path, report: ClassReport) -> list[tuple[str, list[tuple[str, str]]]]:
    """(student, [(flag kind, message)]) of every submission with a flag asking for review, most
    urgent first (crashes, then anti-cheat flags, then cell edits), then by student."""
    out = []
    for student, _, _ in report.rows:
        reasons = sorted({(str(f["kind"]), str(f["message"])) for f in all_flags(root, report.assignment, student)
                          if f.get("kind") in REVIEW_FLAGS or _rank(str(f.get("kind"))) < 2},
                         key=lambda r: (_rank(r[0]), r))
        if reasons:
            out.append((student, reasons))
    return sorted(out, key=lambda sr: (min(_rank(k) for k, _ in sr[1]), sr[0]))


def format_stats(stats: list[ExerciseStats]) -> str:
    lines = [f"{'exercise':<28} {'mean':>9} {'full':>5}  most common hint among those who missed points"]
    for s in stats:
        hint = f"{s.common_hint[:70]} ({s.hint_count}×)" if s.common_hint else ""
        lines.append(f"{s.grade_id.removesuffix('_check'):<28} {s.mean:>5.2f}/{s.max_score:<3g} "
                     f"{100 * s.full_share:>4.0f}%  {hint}")
    return "\n".join(lines)


def format_flagged(rows: list[tuple[str, list[tuple[str, str]]]]) -> str:
    if not rows:
        return "no submission asks for review"
    lines = []
    for student, reasons in rows:
        lines.append(f"{student}:")
        lines += [f"  {kind}: {message.splitlines()[0][:110] if message else ''}" for kind, message in reasons]
    return "\n".join(lines)
