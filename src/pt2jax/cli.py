"""Command line: thin wrappers over the library (``pt2jax build``, ``pt2jax grade``, ...)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import CourseDir, find_course_root
from .errors import GradingError
from .nbgrader_cmd import skip_slow_iri_checker

__all__ = ["main"]


def _course(args: argparse.Namespace) -> CourseDir:
    return CourseDir(Path(args.course).resolve() if args.course else find_course_root())


def _cmd_build(args: argparse.Namespace) -> int:
    from .build.verify import build_assignment, format_build

    course = _course(args)
    for assignment in args.assignments or course.assignments():
        print(f"building {assignment} ...", flush=True)
        result = build_assignment(course, assignment, verify=not args.no_verify)
        print(format_build(result) + (": released" if result.stub_score is not None else ""))
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    import nbformat

    from .grade.compile_cache import CompileCache, open_for_warming, seal, warm_digest
    from .grade.pipeline import GradeRequest, grade_notebook
    from .grade.seeding import base_seed, course_secret

    course = _course(args)
    seed = args.seed if args.seed is not None else base_seed(course_secret(course.root))
    cache = None
    if args.compile_cache:
        folder = Path(args.compile_cache).resolve()
        cache = open_for_warming(folder) if args.warm_cache else CompileCache(folder)
    request = GradeRequest(
        notebook=Path(args.notebook),
        assignment=args.assignment,
        course=course,
        seed=seed,
        student_id=args.student,
        autograder=Path(args.autograder).resolve() if args.autograder else None,
        record_probes=Path(args.record) if args.record else None,
        master=Path(args.master).resolve() if args.master else None,
        sandbox=not args.unsandboxed,
        compile_cache=cache,
    )
    report = grade_notebook(request)
    if cache is not None and cache.writable:  # warm only from a notebook with full marks
        full = report.max_score > 0 and report.score == report.max_score
        seal(cache.path, warm_digest(Path(args.notebook), request.master_path) if full else None)
    if args.output_notebook and report.notebook is not None:
        nbformat.write(report.notebook, args.output_notebook)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        from .course.tables import format_report

        print(format_report(report))
    return 0


def _cmd_autograde(args: argparse.Namespace) -> int:
    from .course.batch import autograde
    from .course.plots import difficulty_chart, grade_histogram
    from .course.reports import class_report
    from .course.stats import exercise_stats, flagged, format_flagged, format_stats
    from .course.tables import format_table
    from .course.workflow import ensure_generated

    root = _course(args).root
    ensure_generated(root, args.assignment)
    autograde(root, args.assignment, force=args.force, workers=args.workers, scheduler=args.scheduler)
    report = class_report(root, args.assignment)
    stats = exercise_stats(root, report)
    print(format_table(report.rows))
    print("\n" + format_stats(stats))
    print("\nflagged for review:\n" + format_flagged(flagged(root, report)))
    reports = root / "reports" / args.assignment
    print(f"\nplots: {grade_histogram(report, reports / 'grades.png')}, "
          f"{difficulty_chart(args.assignment, stats, reports / 'difficulty.png')}")
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    from .course.workflow import release

    exchange = release(_course(args).root, args.assignment)
    print(f"released {args.assignment} to {exchange}: students can fetch it now")
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from .course.workflow import collect

    students = collect(_course(args).root, args.assignment)
    print(f"{len(students)} submission(s) of {args.assignment} in submitted/: {', '.join(students) or 'none'}")
    return 0


def _cmd_feedback(args: argparse.Namespace) -> int:
    from .course.workflow import feedback

    folder = feedback(_course(args).root, args.assignment)
    print(f"feedback of {args.assignment} generated in {folder} and released: students can fetch it now")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .course.workflow import export

    print(f"grades written to {export(_course(args).root, Path(args.to), args.format)}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .course.demo import demo

    print(demo(_course(args), Path(args.out).resolve(), build=not args.no_build))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pt2jax`` command."""
    skip_slow_iri_checker()  # before anything imports nbformat: ~1.2 s off every start
    parser = argparse.ArgumentParser(prog="pt2jax", description=__doc__)
    parser.add_argument("--course", help="course directory (default: found from cwd / this repository)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="regenerate notebooks, release/ and solutions/ from source/")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--no-verify", action="store_true", help="skip grading the solution and the stub")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("grade", help="grade one notebook outside any nbgrader course")
    p.add_argument("notebook")
    p.add_argument("--assignment", required=True)
    p.add_argument("--autograder", help="folder of hidden checks (default: autograder/<assignment>)")
    p.add_argument("--seed", type=int, help="base seed (default: derived from the course secret)")
    p.add_argument("--student", default="anonymous", help="student id (seeds per-student inputs)")
    p.add_argument("--master", help="released notebook to restore locked cells from")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--output-notebook", help="write the graded notebook (with feedback) here")
    p.add_argument("--record", help="record every probe request and reply to this JSON file")
    p.add_argument("--compile-cache", metavar="DIR",
                   help="a JAX compilation cache warmed from the solution, mounted read-only (see docs/grading.md)")
    p.add_argument("--warm-cache", action="store_true",
                   help="empty --compile-cache and let this notebook write it (only for the trusted solution)")
    p.add_argument("--unsandboxed", action="store_true",
                   help="run the student's code without the sandbox (only for trusted notebooks)")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("autograde", help="autograde all submissions in an nbgrader course on Dask (resumable)")
    p.add_argument("assignment")
    p.add_argument("--force", action="store_true", help="regrade students already graded")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="grading processes on this machine (default: one per core)")
    where.add_argument("--scheduler", help="address of an existing Dask scheduler (e.g. tcp://host:8786) to grade on")
    p.set_defaults(func=_cmd_autograde)

    p = sub.add_parser("release", help="instructor: generate an assignment and release it to the exchange")
    p.add_argument("assignment")
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser("collect", help="instructor: collect the submissions of an assignment from the exchange")
    p.add_argument("assignment")
    p.set_defaults(func=_cmd_collect)

    p = sub.add_parser("feedback", help="instructor: generate and release the feedback of an assignment")
    p.add_argument("assignment")
    p.set_defaults(func=_cmd_feedback)

    p = sub.add_parser("export", help="instructor: export every grade as CSV")
    p.add_argument("--to", default="grades.csv", help="CSV file to write (default: grades.csv)")
    p.add_argument("--format", default="nbgrader", choices=["nbgrader", "canvas", "exercises"],
                   help="nbgrader's CSV, a Canvas gradebook import, or one column per graded cell")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("demo", help="build, then grade examples/submissions in a fresh nbgrader course")
    p.add_argument("--out", default="build/demo", help="where the demo course is made")
    p.add_argument("--no-build", action="store_true", help="use release/ as it is")
    p.set_defaults(func=_cmd_demo)

    args = parser.parse_args(argv)
    if getattr(args, "warm_cache", False) and not args.compile_cache:
        parser.error("--warm-cache needs --compile-cache DIR")
    try:
        return int(args.func(args))
    except GradingError as exc:
        print(f"pt2jax: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
