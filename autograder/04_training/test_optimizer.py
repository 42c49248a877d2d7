"""Hidden checks for Part 2 of 04_training: the learning-rate schedule and masked AdamW weight decay
(Exercise 2)."""

from pathlib import Path

import numpy as np

from pt2jax.checks import fail, graded, load_helper, show

ref = load_helper(Path(__file__).with_name("_reference.py"))


@graded("ex02_optimizer_check", points=2)
def test_schedule_at_grade_time_steps(student, rng):
    """make_schedule: 0.1 * peak at step 0, linear to peak at warmup_steps, cosine to 0 at total_steps, 0 after."""
    peak = float(rng.uniform(1e-4, 1e-2))
    warmup = int(rng.integers(2, 20))
    total = warmup + int(rng.integers(10, 200))
    steps = sorted({0, int(rng.integers(1, warmup)), warmup, int(rng.integers(warmup + 1, total)),
                    (warmup + total) // 2, total, total + int(rng.integers(1, 50))})
    got = student.call("graded_schedule", peak, warmup, total, steps)
    if not (isinstance(got, list) and len(got) == len(steps) and all(isinstance(v, float) for v in got)):
        fail(f"graded_schedule should return {len(steps)} learning rates; got {show(got)}.")
    for step, lr in zip(steps, got, strict=True):
        want = ref.schedule(step, peak, warmup, total)
        if abs(lr - want) > 1e-5 * peak + 1e-4 * abs(want):
            hint = ""
            if step == 0 and abs(lr) < 1e-12:
                hint = " The warmup starts at 0.1 * peak_lr (init_value), not at 0."
            elif step > warmup and abs(lr - ref.schedule(step - warmup, peak, warmup, total + warmup)) < 1e-6 * peak:
                hint = " optax.warmup_cosine_decay_schedule's decay_steps counts the warmup steps too."
            fail(f"make_schedule({peak:.3g}, {warmup}, {total}) at step {step} gives {lr:.6g}; expected {want:.6g}"
                 f" (steps checked: {steps}).{hint}")


@graded("ex02_optimizer_check", points=2)
def test_weight_decay_is_masked_to_kernels(student, rng):
    """One update with zero gradients moves each kernel by -lr * weight_decay * kernel (decoupled decay at
    the schedule's first learning rate) and leaves BatchNorm scales, biases and the linear bias alone."""
    seed = int(rng.integers(2**31))
    peak, wd = float(rng.uniform(0.05, 0.2)), float(rng.uniform(0.05, 0.2))  # lr * wd >= 2.5e-4: visible in float32
    warmup, total = int(rng.integers(2, 10)), int(rng.integers(20, 100))
    got = ref.unwrap_dict(student.call("graded_decay", seed, peak, warmup, total, wd), ("change",),
                          "graded_decay")
    change = got["change"] if isinstance(got["change"], dict) else {}
    model = ref.randomized_torch_model(seed)
    lr0 = ref.schedule(0, peak, warmup, total)
    for name, t in model.named_parameters():
        path = ref.nnx_path(name)
        p = ref.to_flax(name, t).astype(np.float64)
        if path not in change:
            fail(f"graded_decay reports no change for {path}.")
        if ref.is_decayed(path):
            if ref.print_close(change[path], -lr0 * wd * p, 1e-3):
                continue
            if ref.print_close(change[path], np.zeros_like(p), 1e-6):
                fail(f"{path} (a kernel) was not decayed: pass weight_decay= to optax.adamw (and a mask that is"
                     " True for the kernels).")
            if ref.print_close(change[path], -peak * wd * p, 1e-3):
                fail(f"{path} was decayed with peak_lr, not with the schedule's learning rate at step 0: pass the"
                     " schedule as learning_rate=.")
            fail(f"{path} changed, but not by -lr * weight_decay * kernel (decoupled AdamW decay): is the"
                 " weight decay or the learning rate another number?")
        elif not ref.print_close(change[path], np.zeros_like(p), 1e-6):
            kind = "linear bias" if path.startswith("fc") else "BatchNorm " + path.rsplit("/", 1)[1]
            fail(f"{path} (a {kind}) changed with zero gradients: weight decay reached it. Mask the decay to the"
                 " kernels (mask= in optax.adamw), as torch would need a parameter group with weight_decay=0.")
