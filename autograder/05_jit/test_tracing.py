"""Hidden checks for exercises 4 to 7 of 05_jit: branches, loops, randomness and a train step under jit."""

import numpy as np
import torch

from pt2jax.checks import (
    as_jax,
    expect,
    expect_array,
    expect_close,
    expect_tuple,
    fail,
    graded,
    prng_key,
    trace_and_call,
)
from pt2jax.checks.speed import expect_compiled

# Exercise 4 -------------------------------------------------------------------------------------

def _clip_case(rng, above):
    shape = tuple(int(n) for n in rng.integers(2, 7, size=int(rng.integers(1, 3))))
    x = rng.normal(size=shape).astype(np.float32)
    norm = float(np.sqrt((x.astype(np.float64) ** 2).sum()))
    limit = norm * float(rng.uniform(0.2, 0.8) if above else rng.uniform(1.2, 3.0))
    return x, np.float32(limit)


@graded("ex04_clip_check", points=1)
def test_clip_values_on_both_sides(student, rng):
    """clip_by_norm scales x down when its norm exceeds max_norm and leaves it alone otherwise."""
    for above in (True, False):
        x, limit = _clip_case(rng, above)
        tx = torch.from_numpy(x)
        want = tx * (float(limit) / tx.norm()) if above else tx
        got = student.call("clip_by_norm", as_jax(x), as_jax(np.asarray(limit)))
        side = "above" if above else "below"
        expect_array(got, want, rtol=1e-5, atol=1e-6,
                     what=f"clip_by_norm(x, max_norm) with |x| {side} max_norm, x of shape {x.shape}")


@graded("ex04_clip_check", points=1)
def test_clip_is_compiled_with_a_traced_limit(student, rng):
    """clip_by_norm is jitted and decides inside the program (max_norm traced), without host callbacks."""
    x, limit = _clip_case(rng, True)
    trace, _ = trace_and_call(student, "clip_by_norm", as_jax(x), as_jax(np.asarray(limit)))
    expect_compiled(trace, "clip_by_norm")


# Exercise 5 -------------------------------------------------------------------------------------

def _power_case(rng):
    n = int(rng.integers(3, 7))
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eig = np.sort(rng.uniform(0.2, 1.0, size=n))[::-1].copy()
    eig[0] = eig[1] * 1.5 + 0.5  # a clear dominant eigenvalue
    a = (q * eig) @ q.T
    return a.astype(np.float32), rng.normal(size=n).astype(np.float32)


def _torch_power(a, v, steps):
    ta, tv = torch.from_numpy(a), torch.from_numpy(v)
    for _ in range(steps):
        tv = ta @ tv
        tv = tv / tv.norm()
    return tv


@graded("ex05_power_check", points=1)
def test_power_iteration_values(student, rng):
    """power_iteration(a, v, n) equals n steps of the torch loop."""
    a, v = _power_case(rng)
    for steps in (int(rng.integers(1, 4)), int(rng.integers(8, 30))):
        got = student.call("power_iteration", as_jax(a), as_jax(v), steps)
        expect_close(got, _torch_power(a, v, steps), f"power_iteration(a, v, {steps}) for a of shape {a.shape}")


@graded("ex05_power_check", points=1)
def test_power_iteration_is_one_loop(student, rng):
    """The jaxpr holds one lax loop whose body has the matmul once, whatever the step count."""
    a, v = _power_case(rng)
    for steps in (3, int(rng.integers(9, 14))):
        trace = student.trace("power_iteration", as_jax(a), as_jax(v), steps)
        expect_compiled(trace, f"power_iteration(a, v, {steps})", loop=True, max_count={"dot_general": 2})


@graded("ex05_power_check", points=1)
def test_power_iteration_does_not_recompile_for_a_new_count(student, rng):
    """A new step count on same-shaped inputs runs the compiled program again (n_steps is traced)."""
    a, v = _power_case(rng)
    first = student.time("power_iteration", as_jax(a), as_jax(v), int(rng.integers(2, 6)), repeat=1)
    again = student.time("power_iteration", as_jax(a), as_jax(v), int(rng.integers(7, 12)), repeat=1)
    expect(bool(again.first_compiles == 0 and again.later_compiles == 0),
           f"power_iteration compiled {again.first_compiles} time(s) for a new n_steps on inputs of the same shapes"
           f" (the first count compiled {first.first_compiles} time(s)). Keep n_steps a traced argument of"
           " lax.fori_loop; a static n_steps (static_argnums) compiles once per value.", "recompiles")


# Exercise 6 -------------------------------------------------------------------------------------

def _dropout_case(rng):
    shape = (int(rng.integers(20, 40)), int(rng.integers(20, 40)))
    x = (np.abs(rng.normal(size=shape)) + 0.1).astype(np.float32)  # no zeros: a zero marks a dropped element
    rate = float(rng.choice([0.1, 0.25, 0.5]))
    return x, rate


def _mask(got, x):
    expect_array(got, x, atol=np.inf, what="dropout(x, key, rate)")
    return got.value != 0


@graded("ex06_dropout_check", points=1)
def test_dropout_values(student, rng):
    """Kept elements are x / (1 - rate), the others zero, in about a `rate` share of places."""
    x, rate = _dropout_case(rng)
    got = student.call("dropout", as_jax(x), prng_key(int(rng.integers(2**31))), rate=rate)
    keep = _mask(got, x)
    expect_array(got, np.where(keep, x / np.float32(1 - rate), 0).astype(np.float32), rtol=1e-5,
                 what=f"dropout(x, key, rate={rate}) where it keeps an element")
    share, sigma = 1 - keep.mean(), np.sqrt(rate * (1 - rate) / keep.size)
    expect(bool(abs(share - rate) < 6 * sigma + 1e-3), f"dropout(x, key, rate={rate}) dropped {share:.1%} of"
           f" {keep.size} elements; about {rate:.0%} expected (keep each with probability 1 - rate).")


@graded("ex06_dropout_check", points=1)
def test_dropout_new_key_new_mask(student, rng):
    """Two keys give two independent masks: the mask is drawn from the key at run time."""
    x, rate = _dropout_case(rng)
    seeds = rng.choice(2**31, size=2, replace=False)
    masks = [_mask(student.call("dropout", as_jax(x), prng_key(int(s)), rate=rate), x) for s in seeds]
    agree = float((masks[0] == masks[1]).mean())
    expected = rate**2 + (1 - rate) ** 2
    expect(bool(agree < expected + 0.15), f"dropout with two different keys gave masks that agree in {agree:.0%}"
           f" of places (about {expected:.0%} for independent masks): the mask does not come from the key. NumPy"
           " or Python randomness inside a jitted function runs once, at trace time.", "trace_side_effect")


@graded("ex06_dropout_check", points=1)
def test_dropout_same_key_same_mask(student, rng):
    """The same key gives the same mask again."""
    x, rate = _dropout_case(rng)
    seed = int(rng.integers(2**31))
    first = _mask(student.call("dropout", as_jax(x), prng_key(seed), rate=rate), x)
    again = _mask(student.call("dropout", as_jax(x), prng_key(seed), rate=rate), x)
    expect(bool(np.array_equal(first, again)), "dropout with the same key twice gave two different masks: the"
           " numbers must come from the key alone (jax.random), not from a global generator.", "reused_key")


# Exercise 7 -------------------------------------------------------------------------------------

def _train(student, rng):
    n, d_in, d_out = int(rng.integers(4, 11)), int(rng.integers(2, 7)), int(rng.integers(1, 5))
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    y = rng.normal(size=(n, d_out)).astype(np.float32)
    lr = float(rng.uniform(0.05, 0.2))
    got = student.call("graded_train", int(rng.integers(1000)), as_jax(x), as_jax(y), lr, 2)
    w0, b0, w1, b1, losses, top = expect_tuple(got, 6, "graded_train(...)")
    expect_array(w0, np.zeros((d_in, d_out), np.float32), atol=np.inf, what="the model's first kernel")
    expect_array(b0, np.zeros((d_out,), np.float32), atol=np.inf, what="the model's first bias")
    ref = torch.nn.Linear(d_in, d_out)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(w0.value).T)
        ref.bias.copy_(torch.from_numpy(b0.value))
    opt, ref_losses = torch.optim.SGD(ref.parameters(), lr=lr), []
    for _ in range(2):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(ref(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        ref_losses.append(loss.detach())
    return (w1, b1, losses, top), (ref.weight.detach().T, ref.bias.detach(), torch.stack(ref_losses))


@graded("ex07_train_step_check", points=1)
def test_train_step_losses(student, rng):
    """The losses of two steps equal torch's MSE + SGD on the same model."""
    (_, _, losses, _), (_, _, want) = _train(student, rng)
    expect_close(losses, want, "the losses of two train_step calls")


@graded("ex07_train_step_check", points=1)
def test_train_step_parameters(student, rng):
    """The kernel and bias after two steps equal torch's after two SGD steps."""
    (w1, b1, _, _), (want_w, want_b, _) = _train(student, rng)
    expect_close(w1, want_w, "the kernel after two train_step calls")
    expect_close(b1, want_b, "the bias after two train_step calls")


@graded("ex07_train_step_check", points=1)
def test_train_step_is_one_compiled_call(student, rng):
    """The whole step (forward, gradient, update) is one jitted call."""
    (_, _, _, top), _ = _train(student, rng)
    if not (isinstance(top, list) and all(isinstance(t, str) for t in top)):
        fail("graded_train did not report train_step's jaxpr.")
    expect(top in (["jit"], ["pjit"]), f"train_step's jaxpr has {len(top)} top-level equations ({', '.join(top[:6])}):"
           " only part of the step is compiled. Decorate the whole train_step with @jax.jit.", "not_jitted")
