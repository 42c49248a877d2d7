"""Hidden checks for Parts 4 and 5 of 04_training: a short training run on the stand-in learns, and a
checkpointed run resumes exactly (the run check and Exercise 6)."""

from pathlib import Path

import numpy as np

from pt2jax.checks import StudentArray, expect, fail, graded, load_helper, show

ref = load_helper(Path(__file__).with_name("_reference.py"))
_CACHE: dict = {}

# The short run is fixed (seed, budget), not drawn: it must fit the CPU budget (docs/budgets.md) and its
# margin over chance was measured for the solution (docs/budgets.md, 04_training). The helpers' model uses
# the fast convolution whatever the student chose (graded_model), so its cost does not depend on the opt-in.
RUN = {"seed": 0, "steps": 40, "batch_size": 16, "peak_lr": 2e-3}
WARM = 2  # steps timed first, one by one: the second must not compile again
CHUNK = 10  # steps per call
N_TEST = 120
CHANCE = 0.1
MIN_ACCURACY = 0.4  # the solution reaches 0.69 on these 120 images; chance is 0.10 +- 0.027
RESUME_K = 1  # steps before the checkpoint (Adam's moments are non-zero from the first step on)


def _short_run(student):
    key = id(student)
    if key not in _CACHE:
        _CACHE[key] = _run_once(student)
    got = _CACHE[key]
    if "recompiles" in got:
        fail(got["recompiles"], "recompiles")
    return got


def _run_once(student):
    student.call("graded_run_start", RUN["seed"], WARM + RUN["steps"], RUN["batch_size"], RUN["peak_lr"])
    # One step, then one more of the same shape, timed by the grader: a step that compiles again for a
    # batch of the same shape would spend minutes on the run (several seconds per compile).
    warm = student.time("graded_run_steps", 1, repeat=WARM - 1)
    if warm.later_compiles:
        return {"recompiles": (
            f"Your train_step compiled again for the second batch of the short run ({warm.later_compiles} XLA"
            f" compiles for one step of the same shape; the first step took {warm.kernel_first_s:.1f} s, the"
            f" second {sum(warm.kernel_times):.1f} s): {RUN['steps']} more steps would take minutes, so the run"
            " was not tried. Define train_step once at the top level with @nnx.jit, and pass it nothing that"
            " changes from step to step as a Python value.")}
    losses = []
    for _ in range(RUN["steps"] // CHUNK):
        got = student.call("graded_run_steps", CHUNK)
        if not (isinstance(got, list) and len(got) == CHUNK and all(isinstance(v, float) for v in got)):
            fail(f"graded_run_steps({CHUNK}) should return {CHUNK} losses; got {show(got)}.")
        losses += got
    return {"losses": losses, "test": student.call("graded_run_test", N_TEST)}


@graded("ex05_run_check", points=1)
def test_short_run_lowers_the_loss(student, rng):
    """40 steps at batch 16 on the stand-in: the last 10 steps' mean loss is below the first 10 steps'."""
    losses = _short_run(student)["losses"]
    if not (isinstance(losses, list) and len(losses) == RUN["steps"] and all(isinstance(v, float) for v in losses)):
        fail(f"graded_short_run should report {RUN['steps']} losses; got {show(losses)}.")
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    expect(bool(np.isfinite(losses).all()) and last < first,
           f"Training did not lower the loss: mean {first:.3f} over the first 10 steps, {last:.3f} over the last 10.")


@graded("ex05_run_check", points=2)
def test_short_run_beats_chance_on_the_test_split(student, rng):
    """After the short run the test accuracy (first 120 test images) is well above chance (10 %)."""
    test = _short_run(student)["test"]
    acc = test.get("accuracy") if isinstance(test, dict) else None
    if not isinstance(acc, float):
        fail(f"evaluate should return {{'accuracy': float, ...}}; got {show(test)}.")
    expect(acc >= MIN_ACCURACY, f"After {RUN['steps']} steps the test accuracy is {acc:.3f}; the course's solution"
           f" reaches well above {MIN_ACCURACY} (chance: {CHANCE}).")


def _resume(student, rng):
    key = ("resume", id(student))
    if key not in _CACHE:
        seed = int(rng.integers(2**31))
        batches = [(rng.normal(size=(4, 32, 32, 3)).astype(np.float32), rng.integers(0, 10, 4).astype(np.int32))
                   for _ in range(RESUME_K + 1)]
        peak, wd = float(rng.uniform(5e-4, 3e-3)), float(rng.uniform(1e-4, 1e-2))
        # three calls of one or two train steps each: every call stays far below the call time limit
        saved = ref.unwrap_dict(student.call("graded_resume_save", seed, batches, RESUME_K, peak, 2, 20, wd),
                                ("saved",), "graded_resume_save")
        run = ref.unwrap_dict(student.call("graded_resume_next"), ("loss", "after"), "graded_resume_next")
        resumed = ref.unwrap_dict(student.call("graded_resume_restore"), ("restored", "loss", "after", "count"),
                                  "graded_resume_restore")
        got = {"saved": saved["saved"], "restored": resumed["restored"], "losses": [run["loss"], resumed["loss"]],
               "after": [run["after"], resumed["after"]], "count": resumed["count"]}
        _CACHE[key] = got
    return _CACHE[key]


def _differences(a, b):
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return ["(no state reported)"]
    out = []
    for part in ("model", "optimizer"):
        x, y = a.get(part), b.get(part)
        if not (isinstance(x, dict) and isinstance(y, dict)):
            out.append(part)
            continue
        out += [f"{part}: {p}" for p in sorted(set(x) | set(y)) if x.get(p) != y.get(p)]
    return out


@graded("ex06_checkpoint_check", points=2)
def test_restore_brings_back_model_and_optimizer(student, rng):
    """A freshly built model and optimizer hold exactly the saved states after restore_checkpoint."""
    got = _resume(student, rng)
    differ = _differences(got["saved"], got["restored"])
    if differ:
        opt = [d for d in differ if d.startswith("optimizer")]
        fail(f"After restore_checkpoint, {len(differ)} variables differ from the saved ones ({differ[:3]}...)."
             + (" The optimizer's state (step count, Adam's mu and nu) is part of a run: save and restore"
                " nnx.state(optimizer) too." if opt and len(opt) == len(differ) else ""),
             None if opt and len(opt) == len(differ) else "state_dict_vs_nnx_state")


@graded("ex06_checkpoint_check", points=2)
def test_resumed_step_equals_uninterrupted_step(student, rng):
    """The step after restoring gives the uninterrupted run's loss and state, and the step count continues."""
    got = _resume(student, rng)
    losses = got["losses"] if isinstance(got["losses"], list) and len(got["losses"]) == 2 else [None, None]
    a, b = losses
    same_loss = isinstance(a, StudentArray) and isinstance(b, StudentArray) and a.shape == b.shape == () and bool(
        np.allclose(a.value, b.value, rtol=1e-6, atol=1e-6))
    expect(same_loss, f"The resumed step's loss {show(b)} is not the uninterrupted run's {show(a)}.")
    after = got["after"] if isinstance(got["after"], list) and len(got["after"]) == 2 else [None, None]
    differ = _differences(*after)
    expect(not differ, f"After the resumed step, {len(differ)} variables differ from the uninterrupted run"
           f" ({differ[:3]}...).")
    expect(got["count"] == RESUME_K + 1, f"The resumed optimizer's step count is {got['count']!r} after"
           f" {RESUME_K} + 1 steps, not {RESUME_K + 1}: the schedule would restart.")
