"""Hidden checks for exercise 9 of 05_jit: profile_stages times each stage on the previous stage's
output, compilation apart, and reports one steady-state figure per stage in model order."""

from pathlib import Path

from pt2jax.checks import expect, expect_tuple, fail, graded, load_helper

speed = load_helper(Path(__file__).with_name("_speed.py"))


def _profile(student, rng):
    """Stand-in stages drawn per student: 3-5 of them, one slow (its first call slower still, as if
    compiling). Returns (what was asked, the student's profile, the shapes each stage received)."""
    k = int(rng.integers(3, 6))
    slow = int(rng.integers(0, k))
    sleeps = [round(float(rng.uniform(0.005, 0.012)), 4) for _ in range(k)]
    sleeps[slow] = round(float(rng.uniform(0.05, 0.07)), 4)
    first = list(sleeps)
    first[slow] = 0.5
    n = int(rng.integers(3, 6))
    profile, seen = expect_tuple(student.call("graded_profile", sleeps, first, n), 2,
                                 "graded_profile(sleeps, first_sleep, n)")
    names = [f"s{i}" for i in range(k)]
    if not isinstance(profile, dict):
        fail(f"profile_stages returned {type(profile).__name__} {profile!r:.60}, not a dict from each stage's"
             " name to its seconds.")
    if list(profile) != names:
        fail(f"profile_stages returned the names {list(profile)!r:.120} for stages {names}: one entry per stage,"
             " in the order the stages were given (model order).")
    for name, value in profile.items():
        speed.expect_seconds(value, f"the time of stage {name}")
    return names, sleeps, slow, profile, seen


@graded("ex09_profile_check", points=1)
def test_each_stage_gets_the_previous_output(student, rng):
    """One entry per stage, in model order, and stage k is called on what stage k-1 returned."""
    names, _, _, _, seen = _profile(student, rng)
    want = {name: ((1, 3) if i == 0 else (i + 1, 3)) for i, name in enumerate(names)}
    got = {k: tuple(v) for k, v in seen.items()} if isinstance(seen, dict) else seen
    expect(got == want, f"the stages were last called on the shapes {got!r:.200}; each should get the previous"
           f" stage's output ({want}).", "stage_inputs")


@graded("ex09_profile_check", points=1)
def test_the_profile_points_at_the_slow_stage(student, rng):
    """Each stage's figure is its steady time: the slow stage (its first call 0.5 s) is the largest, near
    its per-call time, and every stage's calls are really timed."""
    names, sleeps, slow, profile, _ = _profile(student, rng)
    slow_name, slow_s = names[slow], sleeps[slow]
    got = profile[slow_name]
    expect(0.8 * slow_s <= got < 0.3, f"profile_stages gave stage {slow_name} {got:.3f} s; each of its calls takes"
           f" {slow_s:.3f} s and only its first one 0.5 s (as if compiling): time n calls after the first and take"
           " their median.", "compile_in_timing")
    short = [f"{k} {v * 1e3:.2f} ms (a call takes {s * 1e3:.1f} ms)"
             for k, v, s in zip(names, profile.values(), sleeps, strict=True) if v < 0.8 * s]
    expect(not short, "some stages were given less time than one call takes: " + "; ".join(short)
           + ". Time every call from its start until its result is ready.", "block_until_ready")
    expect(max(profile, key=profile.get) == slow_name, f"the profile's largest entry is"
           f" {max(profile, key=profile.get)}, but stage {slow_name} is the slow one ({profile}).")
