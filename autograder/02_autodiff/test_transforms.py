"""Hidden checks for Part 4 of 02_autodiff: transformations combined (exercises 11 to 14)."""

import numpy as np
import torch
import torch.nn.functional as F

from pt2jax.checks import (
    StudentArray,
    as_jax,
    call_keeping_inputs,
    expect,
    expect_array,
    expect_close,
    expect_tuple,
    fail,
    graded,
    show,
)


def _matches(got, want):
    """Whether student data matches a reference (for choosing a hint; never decides a check)."""
    want = np.asarray(want)
    return (isinstance(got, StudentArray) and got.shape == want.shape
            and bool(np.allclose(got.value, want, rtol=1e-4, atol=1e-5)))


def _linear_case(rng, n):
    d_in, d_out = int(rng.integers(2, 7)), int(rng.integers(1, 5))
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    w = (rng.normal(size=(d_in, d_out)) / np.sqrt(d_in)).astype(np.float32)
    b = rng.normal(scale=0.5, size=d_out).astype(np.float32)
    y = rng.normal(size=(n, d_out)).astype(np.float32)
    return w, b, x, y


def _torch_loss(w, b, x, y):
    return torch.mean((x @ w + b - y) ** 2)


# Exercise 11 ------------------------------------------------------------------------------------

def _per_example_case(student, n, rng):
    w, b, x, y = _linear_case(rng, n)
    got = student.call("per_example_grads", *(as_jax(a) for a in (w, b, x, y)))
    what = f"per_example_grads(w, b, x, y) for x of shape {x.shape} and w of shape {w.shape}"
    dw, db = expect_tuple(got, 2, what)
    if isinstance(dw, StudentArray) and dw.shape == w.shape:
        fail(f"dw from {what} has the shape of w, {w.shape}: that is one gradient for the whole batch."
             f" Stack one gradient per example, shape {(n, *w.shape)}.")
    per_example = torch.func.vmap(torch.func.grad(_torch_loss, argnums=(0, 1)), in_dims=(None, None, 0, 0))
    want_dw, want_db = per_example(*(torch.from_numpy(a) for a in (w, b, x, y)))
    expect_close(dw, want_dw, f"dw from {what}")
    expect_close(db, want_db, f"db from {what}")


@graded("ex11_per_example_check", points=2)
def test_per_example_grads(student, rng):
    """dw[i], db[i] is the gradient of compute_loss on example i, as torch.func.vmap(torch.func.grad(...))."""
    _per_example_case(student, int(rng.integers(3, 17)), rng)


@graded("ex11_per_example_check", points=1)
def test_batch_of_one(student, rng):
    """A batch of one example gives arrays with a leading axis of length 1."""
    _per_example_case(student, 1, rng)


# Exercise 12 ------------------------------------------------------------------------------------

def _jacobian_case(rng):
    m = int(rng.integers(2, 7))
    n = int(rng.integers(2, 7))
    n += n == m                                   # m != n: a transposed Jacobian has the wrong shape
    a = (rng.normal(size=(m, n)) / np.sqrt(n)).astype(np.float32)
    x = rng.normal(size=n).astype(np.float32)
    return a, x


@graded("ex12_jacobians_check", points=1)
def test_layer_jacobian(student, rng):
    """layer_jacobian(a, x) is torch.func.jacrev of tanh(a @ x): shape (m, n)."""
    a, x = _jacobian_case(rng)
    ta = torch.from_numpy(a)
    want = torch.func.jacrev(lambda t: torch.tanh(ta @ t))(torch.from_numpy(x))
    got = student.call("layer_jacobian", as_jax(a), as_jax(x))
    expect_close(got, want, f"layer_jacobian(a, x) for a of shape {a.shape}")


@graded("ex12_jacobians_check", points=1)
def test_lse_hessian(student, rng):
    """lse_hessian(a, x) is the Hessian of logsumexp(a @ x): shape (n, n), symmetric."""
    a, x = _jacobian_case(rng)
    ta = torch.from_numpy(a)
    want = torch.autograd.functional.hessian(lambda t: torch.logsumexp(ta @ t, dim=0), torch.from_numpy(x))
    got = student.call("lse_hessian", as_jax(a), as_jax(x))
    expect_close(got, want, f"lse_hessian(a, x) for a of shape {a.shape}")


# Exercise 13 ------------------------------------------------------------------------------------

def _gradient_check(student, rng):
    w, b, x, y = _linear_case(rng, int(rng.integers(3, 12)))
    dw = rng.normal(size=w.shape).astype(np.float32)
    db = rng.normal(size=b.shape).astype(np.float32)
    eps = float(10 ** rng.uniform(-4.0, -3.0))
    got = student.call("gradient_check", *(as_jax(a) for a in (w, b, x, y, dw, db)), eps)
    fd, ad = expect_tuple(got, 2, "gradient_check(w, b, x, y, dw, db, eps)")
    tw, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (w, b))
    F.mse_loss(torch.from_numpy(x).double() @ tw + tb, torch.from_numpy(y).double()).backward()
    want = (tw.grad * torch.from_numpy(dw).double()).sum() + (tb.grad * torch.from_numpy(db).double()).sum()
    return fd, ad, want, eps


def _float64(got, what):
    if isinstance(got, StudentArray) and got.kind == "jax.Array" and got.dtype == "float32":
        fail(f"{what} is float32; compute it in float64, inside `with jax.enable_x64(True):`, where"
             " jnp.asarray(a, dtype=jnp.float64) really gives float64.")


@graded("ex13_grad_check_check", points=1)
def test_finite_difference(student, rng):
    """fd, the central difference of compute_loss along (dw, db) in float64, matches autograd's directional
    derivative to 1e-6."""
    fd, _, want, eps = _gradient_check(student, rng)
    what = f"fd from gradient_check(..., eps={eps:.3g})"
    _float64(fd, what)
    expect_array(fd, want, dtype="float64", rtol=1e-6, atol=1e-9, what=what)


@graded("ex13_grad_check_check", points=1)
def test_autodiff_directional_derivative(student, rng):
    """ad, the jax.grad directional derivative in float64, matches autograd's to 1e-8."""
    _, ad, want, _ = _gradient_check(student, rng)
    what = "ad from gradient_check(...)"
    _float64(ad, what)
    expect_array(ad, want, dtype="float64", rtol=1e-8, atol=1e-12, what=what)


# Exercise 14 ------------------------------------------------------------------------------------

def _torch_train(w, b, x, y, lr, steps, zero_grad=True):
    """torch.optim.SGD on F.mse_loss; zero_grad=False reproduces the forgotten optimizer.zero_grad()."""
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    optimizer = torch.optim.SGD([tw, tb], lr=lr)
    losses = []
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()
        loss = F.mse_loss(torch.from_numpy(x) @ tw + tb, torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return tw.detach(), tb.detach(), torch.stack(losses)


def _train_case(student, rng, keep_inputs=False):
    n, d_in, d_out = int(rng.integers(8, 33)), int(rng.integers(2, 6)), int(rng.integers(1, 4))
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    y = (x @ rng.normal(size=(d_in, d_out)) + rng.normal(scale=0.3, size=(n, d_out))).astype(np.float32)
    w = rng.normal(scale=0.1, size=(d_in, d_out)).astype(np.float32)
    b = np.zeros(d_out, dtype=np.float32)
    lr = float(np.float32(rng.uniform(0.02, 0.1)))
    steps = int(rng.integers(5, 31))
    call = (lambda *a: call_keeping_inputs(student, *a)) if keep_inputs else student.call
    got = call("train", {"w": as_jax(w), "b": as_jax(b)}, as_jax(x), as_jax(y), lr, steps)
    what = f"train(params, x, y, {lr:.3g}, {steps}) for x of shape {x.shape}"
    final, losses = expect_tuple(got, 2, what)
    return (final, losses), (w, b, x, y, lr, steps), what


@graded("ex14_train_check", points=2)
def test_final_params(student, rng):
    """The final {"w", "b"} equal torch.optim.SGD's after the same number of steps."""
    (final, _), (w, b, x, y, lr, steps), what = _train_case(student, rng)
    expect(isinstance(final, dict) and set(final) == {"w", "b"},
           f"The first item of {what} should be the params dict with the keys 'w' and 'b'; got {show(final)}"
           f"{' with keys ' + str(sorted(final)) if isinstance(final, dict) else ''}.", hint="grad_structure")
    want_w, want_b, _ = _torch_train(w, b, x, y, lr, steps)
    acc_w, acc_b, _ = _torch_train(w, b, x, y, lr, steps, zero_grad=False)
    hints = []
    if _matches(final["w"], w) and _matches(final["b"], b):
        hints.append("backward_mutation")              # the update was computed but never kept
    elif _matches(final["w"], acc_w.numpy()) and _matches(final["b"], acc_b.numpy()):
        hints.append("accumulated_grads")
    expect_close(final["w"], want_w, f'final["w"] from {what}', hints=hints)
    expect_close(final["b"], want_b, f'final["b"] from {what}', hints=hints)


@graded("ex14_train_check", points=1)
def test_losses(student, rng):
    """losses[i] is the loss before update i, a float32 array of shape (steps,); the params passed in
    are left unchanged (the self-check says so)."""
    (_, losses), (w, b, x, y, lr, steps), what = _train_case(student, rng, keep_inputs=True)
    *_, want = _torch_train(w, b, x, y, lr, steps)
    constant = (isinstance(losses, StudentArray) and losses.value.size > 1 and losses.value.dtype.kind in "fiu"
                and np.ptp(losses.value.astype(np.float64)) == 0)  # a bool or complex result: feedback below
    expect_close(losses, want, f"losses from {what}", hints=["backward_mutation"] if constant else [])
