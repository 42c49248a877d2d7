"""Hidden checks for exercise 1 of 05_jit: time_it keeps compilation apart and waits for results."""

from pathlib import Path

from pt2jax.checks import expect, expect_tuple, graded, load_helper

speed = load_helper(Path(__file__).with_name("_speed.py"))


def _time_it(student, case, n):
    first, median = expect_tuple(student.call("graded_time_it", case, n), 2, "time_it(f, *args, n=n)")
    for name, value in (("first_s", first), ("median_s", median)):
        speed.expect_seconds(value, f"time_it's {name}")
    return first, median


@graded("ex01_time_it_check", points=1)
def test_first_call_timed_apart(student, rng):
    """The first call (0.5 s, as if compiling) is reported apart, as first_s."""
    n = int(rng.integers(4, 9))
    first, _ = _time_it(student, "compile", n)
    expect(bool(first >= 0.4), f"time_it reported first_s = {first:.3f} s for a function whose first call"
           " alone takes 0.5 s: time that call on its own, before the steady-state calls.", "compile_in_timing")


@graded("ex01_time_it_check", points=1)
def test_steady_state_is_a_median(student, rng):
    """The steady time is the median of the n later calls (0.02 s each), compile excluded."""
    n = int(rng.integers(4, 7))
    _, median = _time_it(student, "compile", n)
    expect(bool(median < 0.07), f"time_it reported median_s = {median:.3f} s for a function whose later calls"
           f" take 0.02 s each (n={n}); the first call took 0.5 s. Leave the first call out of the steady-state"
           " figure and take the median, not the mean.", "compile_in_timing")
    expect(bool(median >= 0.015), f"time_it reported median_s = {median * 1e3:.2f} ms for calls that sleep 20 ms"
           " each: every call must be timed on its own, from start to finished result.")


@graded("ex01_time_it_check", points=1)
def test_results_are_waited_for(student, rng):
    """time_it waits for asynchronously dispatched work (tens of milliseconds per call)."""
    true_s = student.time("graded_async_once", repeat=3).per_call_s  # the grader's clock, results waited for
    n = int(rng.integers(4, 8))
    _, median = _time_it(student, "async", n)
    expect(bool(median >= 0.5 * true_s), f"time_it reported {median * 1e3:.2f} ms per call for work the grader"
           f" measured at {true_s * 1e3:.1f} ms: the clock stopped when the work was queued, not when it was done."
           " Call jax.block_until_ready(...) on the result inside the timed region.", "block_until_ready")
