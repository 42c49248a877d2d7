"""Hidden checks for Part 3 of 04_training: one and two train_steps equal PyTorch's AdamW steps, the step
compiles once, and evaluate averages over examples without changing the model (Exercises 3 and 4)."""

from pathlib import Path

import numpy as np
import torch

from pt2jax.checks import (
    StudentArray,
    StudentTimeout,
    expect,
    expect_close,
    extra_hints,
    fail,
    graded,
    load_helper,
    show,
)

ref = load_helper(Path(__file__).with_name("_reference.py"))
_CACHE: dict = {}
BATCH = 4  # at 32x32 the last stage's BatchNorms see 4 * 2 * 2 = 16 values per channel
# Adam's first steps move every parameter by about lr * g / (|g| + eps): where |g| is near eps, float32
# rounding of the gradient moves the update by a fraction of lr. Parameter changes are compared to
# 2 % of the learning rate (the sum of the steps' learning rates after two steps).
STEP_TOL = 0.02
NOISE = 4.0  # times |torch float32 step - torch float64 step|: JAX's float32 may stray as far, either way
# Flax's BatchNorm computes the batch variance as E[x^2] - E[x]^2 (torch: in two passes), so its float32
# error is sometimes larger than torch's own: measured on the solution over 8 grade-time draws, at most
# 6 % of the probed values and 1.7 % of a BatchNorm scale's sums strayed further. A slip in the optimizer
# (learning rate, schedule, b1/b2, no update) moves nearly every value by a large part of lr.
OUTSIDE = 0.10
PRINT_TOL = 0.03
# Adam's second step is lr * m / sqrt(v) with m = 0.09 g1 + 0.1 g2 (b1 = 0.9): where the two gradients
# nearly cancel, a relative difference GRAD_REL between JAX's and torch's float32 gradients moves it by
# up to GRAD_REL * (0.09 |g1| + 0.1 |g2|) / |m| of the step (at most two steps' worth).
GRAD_REL = 0.01
# Where torch's gradient is below AMBIGUOUS times its tensor's rms, JAX's float32 gradient was seen with
# the other sign (Adam then steps the other way: 2 lr apart): measured up to 1e-2 of the rms, and rarely
# (one position in 3000 over 10 draws) above it; after such a first step, up to 3.4 % of the second
# step's probed values strayed (up to 0.8 lr), against OUTSIDE = 10 %.
AMBIGUOUS = 0.03


def _images(rng, n):
    return rng.normal(size=(n, 32, 32, 3)).astype(np.float32)


def _run(student, rng):
    """Two graded train steps and torch's, shared by the checks below (drawn once per grading)."""
    key = id(student)
    if key not in _CACHE:
        seed, probe_seed = int(rng.integers(2**31)), int(rng.integers(2**31))
        batches = [(_images(rng, BATCH), rng.integers(0, 10, BATCH).astype(np.int32)) for _ in range(2)]
        peak, wd = float(rng.uniform(1e-4, 6e-4)), float(rng.uniform(1e-4, 3e-3))
        warmup = int(rng.integers(1, 4))
        total = warmup + int(rng.integers(5, 50))
        got = ref.unwrap_dict(student.call("graded_train_steps", seed, batches, peak, warmup, total, wd, probe_seed),
                              ("steps", "metrics"), "graded_train_steps")
        steps = got["steps"] if isinstance(got["steps"], list) else []
        if len(steps) != 2 or not all(isinstance(s, dict) for s in steps):
            fail(f"graded_train_steps should report 2 steps; got {show(got['steps'])}.")
        want = ref.torch_run(seed, batches, peak, warmup, total, wd)
        exact = ref.torch_run(seed, batches, peak, warmup, total, wd, dtype=torch.float64)
        lrs = [ref.schedule(k, peak, warmup, total) for k in range(2)]
        for step, step64 in zip(want, exact, strict=True):  # where float32 alone cannot decide the change
            step["slack"] = {p: NOISE * np.abs(d - step64["delta"][p]) for p, d in step["delta"].items()}
            step["stats_slack"] = {p: NOISE * np.abs(v - step64["stats"][p]) for p, v in step["stats"].items()}
        for p, g2 in want[1]["grad"].items():  # the second step where Adam's first moment nearly cancels
            g1 = want[0]["grad"][p]
            kappa = (0.09 * np.abs(g1) + 0.1 * np.abs(g2)) / (np.abs(0.09 * g1 + 0.1 * g2) + 1e-30)
            want[1]["slack"][p] = want[1]["slack"][p] + 2 * lrs[1] * np.minimum(1.0, GRAD_REL * kappa)
        for k, step in enumerate(want):  # a gradient too small for float32 to give its sign: a step either way
            for p, g in step["grad"].items():
                rms = float(np.sqrt(np.mean(g ** 2))) + 1e-30
                unsure = np.abs(want[0]["grad"][p]) < AMBIGUOUS * float(np.sqrt(np.mean(want[0]["grad"][p] ** 2)))
                if k == 1:
                    unsure |= np.abs(g) < AMBIGUOUS * rms
                step["slack"][p] = step["slack"][p] + 2 * sum(lrs[:k + 1]) * unsure
        _CACHE[key] = (steps, want, lrs, probe_seed, got["metrics"], batches)
    return _CACHE[key]


def _compare_params(step, want, lr_sum, probe_seed, which):
    """Every probed position within STEP_TOL * lr of torch's change, but for at most OUTSIDE of them and
    never more than Adam can move it the other way (2 lr per step); every parameter's sums within PRINT_TOL
    of the sum of |change|. Each
    bound is widened by NOISE times how far torch's own float32 step strays from its float64 step there
    (Adam's first steps are about lr * sign(g): where g is at float32's rounding level, or where two steps'
    gradients nearly cancel in Adam's first moment, float32 alone decides the sign)."""
    shapes = {p: d.shape for p, d in want["delta"].items()}
    where = ref.probe_positions(probe_seed, shapes)
    probes = step.get("probes") if isinstance(step.get("probes"), dict) else {}
    prints = step.get("prints") if isinstance(step.get("prints"), dict) else {}
    errors, worst_path, worst = [], None, -1.0
    for path, delta in sorted(want["delta"].items()):
        got = probes.get(path)
        if not isinstance(got, StudentArray) or got.shape != where[path].shape:
            fail(f"After the {which} step, graded_train_steps reports nothing for {path}.")
        if float(np.abs(got.value).max()) == 0.0 and float(np.abs(delta).max()) > 0.0:
            fail(f"After the {which} step, {path} has not changed: was optimizer.update(model, grads) called,"
                 " with the gradients of the loss with respect to the model (nnx.value_and_grad)?",
                 "backward_mutation")
        noise = want["slack"][path]
        err = np.abs(got.value.astype(np.float64) - delta.ravel()[where[path]]) - noise.ravel()[where[path]]
        errors.append(err)
        if float(err.max()) > worst:
            worst_path, worst = path, float(err.max())
        if not ref.print_close(prints.get(path), delta, PRINT_TOL, slack=float(noise.sum())):
            worst_path, worst = path, np.inf
            break
    outside = float(np.mean(np.concatenate(errors) > STEP_TOL * lr_sum))
    if worst > 2.05 * lr_sum or outside > OUTSIDE:
        fail(f"After the {which} step, the parameters differ from torch's AdamW step (worst: {worst_path}, by"
             f" {worst:.3g} for a learning rate of {lr_sum:.3g}; {100 * outside:.1f} % of the probed values off by"
             f" more than {STEP_TOL:.0%} of it). Check optax.adamw's arguments (named: the second positional one"
             " is b1, not a momentum), eps=1e-8, the schedule, and that the loss is the batch mean of the"
             " cross-entropy.")


@graded("ex03_train_step_check", points=1)
def test_first_step_loss(student, rng):
    """The loss train_step returns is torch's F.cross_entropy on the same batch (mean over the batch)."""
    steps, want, *_ = _run(student, rng)
    loss = steps[0].get("loss")
    total = want[0]["loss"] * BATCH
    if isinstance(loss, StudentArray) and loss.shape == () and abs(float(loss.value) - total) < 1e-3 * (1 + total):
        fail("train_step returns the sum of the per-example losses; torch's cross_entropy (and the gradient the"
             " optimizer should see) is their mean.")
    with extra_hints("python_scalar"):
        expect_close(loss, np.float32(want[0]["loss"]), "the loss of the first train_step")


@graded("ex03_train_step_check", points=2)
def test_first_step_updates_parameters_as_torch(student, rng):
    """After one step every parameter equals torch's after AdamW (same schedule, masked decay)."""
    steps, want, lrs, probe_seed, *_ = _run(student, rng)
    _compare_params(steps[0], want[0], lrs[0], probe_seed, "first")


@graded("ex03_train_step_check", points=2)
def test_second_step_updates_parameters_as_torch(student, rng):
    """After two steps (Adam's moments now matter) every parameter equals torch's."""
    steps, want, lrs, probe_seed, *_ = _run(student, rng)
    _compare_params(steps[1], want[1], lrs[0] + lrs[1], probe_seed, "second")


@graded("ex03_train_step_check", points=1)
def test_batchnorm_statistics_follow_torch(student, rng):
    """In training mode each step updates every BatchNorm's mean and var as torch's running statistics
    (torch's unbiased variance converted to Flax's biased update)."""
    steps, want, *_ = _run(student, rng)
    for k, which in enumerate(("first", "second")):
        stats = steps[k].get("stats") if isinstance(steps[k].get("stats"), dict) else {}
        for path, value in sorted(want[k]["stats"].items()):
            got = stats.get(path)
            if not isinstance(got, StudentArray) or got.shape != value.shape:
                fail(f"After the {which} step, graded_train_steps reports no BatchNorm statistic {path}.")
            # the second step's statistics come from the first step's parameters: where float32 moved those,
            # the statistics may stray as far as torch's own float32 run strays from its float64 run
            slack = want[k]["stats_slack"][path] if k else 0.0
            if not bool(np.all(np.abs(got.value - value) <= 1e-4 + 1e-4 * np.abs(value) + slack)):
                fail(f"After the {which} step, {path} is not torch's running statistic (largest difference"
                     f" {float(np.abs(got.value - value).max()):.3g}): the step must run the model in training"
                     " mode and keep the BatchNorm updates.", "batchnorm_train_mode")


@graded("ex03_train_step_check", points=1)
def test_optimizer_counts_steps_and_metrics_accumulate(student, rng):
    """The optimizer's step count is 1, then 2; the metrics hold the two steps' mean loss."""
    steps, want, _, _, metrics, _ = _run(student, rng)
    counts = [s.get("count") for s in steps]
    expect(counts == [1, 2], f"optimizer.step after one and two steps: {counts}, expected [1, 2].")
    loss = metrics.get("loss") if isinstance(metrics, dict) else None
    mean = (want[0]["loss"] + want[1]["loss"]) / 2
    expect(isinstance(loss, float) and abs(loss - mean) < 1e-4 * (1 + abs(mean)),
           f"After two steps of the same size the metrics' loss should be {mean:.5f}, the mean of both steps'"
           f" losses; got {loss!r}. train_step should call metrics.update(loss=..., logits=..., labels=...).")


_ONCE = (" A jitted step should compile once per input shape: define it once at the top level with @nnx.jit (not a"
         " new jitted function inside each call), and pass nothing to it that changes from step to step as a static"
         " Python value.")


@graded("ex03_train_step_check", points=2)
def test_train_step_compiles_once(student, rng):
    """Repeated train_steps on new batches of one shape reuse one compiled program: the grader's clock sees
    steady calls much faster than the first, and the kernel sees no new XLA compile."""
    seed, n = int(rng.integers(2**31)), 2  # a batch size of its own, so the first call compiles
    student.call("graded_stream_setup", seed, n, 1e-3, 2, 20, 1e-3)
    first = student.time("graded_stream_step", repeat=0)
    try:  # two more calls in one request: a step that compiles at every call can pass the call's time limit
        steady = student.time("graded_stream_step", repeat=1)
    except StudentTimeout as exc:
        seen = (" (grader's clock), and two more steps of the same shape did not finish in the time limit for"
                f" one call ({exc.feedback})")
    else:
        later = steady.first_compiles + steady.later_compiles
        if not later and steady.per_call_s <= 0.5 * first.per_call_s:
            return
        seen = (f", the next {steady.calls} took {steady.per_call_s:.2f} s each (grader's clock)"
                f"{f', with {later} XLA compiles' if later else ''}")
    fail(f"train_step compiles again for new batches of the same shape: the first call took"
         f" {first.per_call_s:.2f} s{seen}.{_ONCE}", "recompiles")


@graded("ex04_evaluate_check", points=2)
def test_evaluate_changes_nothing(student, rng):
    """evaluate switches to evaluation mode: no parameter and no BatchNorm statistic changes."""
    got, _, _ = _evaluate(student, rng)
    before, after = got["before"], got["after"]
    changed = sorted(p for p in before if before.get(p) != after.get(p)) if isinstance(before, dict) else ["?"]
    if changed:
        stats = [p for p in changed if p.endswith(("/mean", "/var"))]
        fail(f"evaluate changed {len(changed)} variables ({changed[:3]}...)."
             + (" BatchNorm statistics moved: the model was still in training mode. Call model.eval() first."
                if stats else " Evaluation must not update parameters."),
             "batchnorm_train_mode" if stats else None)


@graded("ex04_evaluate_check", points=2)
def test_evaluate_averages_over_examples(student, rng):
    """Accuracy and average loss over all examples of batches of unequal sizes, as torch computes them."""
    got, logits, labels = _evaluate(student, rng)
    result = got["result"] if isinstance(got["result"], dict) else {}
    acc, loss = result.get("accuracy"), result.get("loss")
    if not (isinstance(acc, float) and isinstance(loss, float)):
        fail(f"evaluate should return {{'accuracy': float, 'loss': float}}; got {show(result)}.", "python_scalar")
    import torch
    import torch.nn.functional as F
    want_loss = float(F.cross_entropy(logits, labels))
    want_acc = float((logits.argmax(1) == labels).double().mean())
    sizes = got["sizes"]
    per_batch = np.mean([float(F.cross_entropy(lg, lb)) for lg, lb in zip(torch.split(logits, sizes),
                                                                          torch.split(labels, sizes), strict=True)])
    if abs(loss - want_loss) > 1e-4 * (1 + abs(want_loss)):
        if abs(loss - per_batch) < 1e-4 * (1 + abs(per_batch)):
            fail(f"evaluate's loss {loss:.5f} is the mean of the batches' mean losses; over all examples of batches"
                 f" of sizes {sizes} it is {want_loss:.5f}. Give nnx.metrics.Average the per-example losses.")
        fail(f"evaluate's loss is {loss:.5f}; torch's cross-entropy over all examples is {want_loss:.5f}.")
    expect(abs(acc - want_acc) < 1e-6, f"evaluate's accuracy is {acc:.5f}; over all examples it is {want_acc:.5f}.")


def _evaluate(student, rng):
    key = ("eval", id(student))
    if key not in _CACHE:
        import torch
        seed = int(rng.integers(2**31))
        sizes = [4, 2, 4]  # unequal sizes, two compiled shapes
        model = ref.randomized_torch_model(seed)
        batches, all_logits, all_labels = [], [], []
        for i, n in enumerate(sizes):
            x = _images(rng, n)
            with torch.no_grad():
                logits = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
            right = logits.argmax(1).numpy()
            labels = rng.integers(0, 10, n)
            keep = rng.random(n) < (0.9 if i == 1 else 0.4)  # batches differ in accuracy and loss
            labels = np.where(keep, right, labels).astype(np.int32)
            batches.append((x, labels))
            all_logits.append(logits)
            all_labels.append(torch.from_numpy(labels.astype(np.int64)))
        got = ref.unwrap_dict(student.call("graded_evaluate", seed, batches), ("result", "before", "after"),
                              "graded_evaluate")
        got = dict(got, sizes=sizes)
        _CACHE[key] = (got, torch.cat(all_logits), torch.cat(all_labels))
    return _CACHE[key]
