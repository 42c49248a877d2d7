"""Hidden checks for Part 1 of 02_autodiff: gradients of pure functions (exercises 1 to 4)."""

import numpy as np
import torch
import torch.nn.functional as F

from pt2jax.checks import (
    StudentArray,
    as_jax,
    call_transformed,
    expect,
    expect_array,
    expect_close,
    expect_tuple,
    fail,
    graded,
    show,
)


def _linear_case(rng, shapes, square=False):
    """(w, b, x, y) for the linear model; x and w have different shapes unless ``square``. The sizes
    come from ``shapes`` (the same in every check of one student: one compile), the values from ``rng``."""
    sizes = shapes("linear_square" if square else "linear")
    if square:
        n = d_in = d_out = int(sizes.integers(2, 7))
    else:
        d_in, d_out = int(sizes.integers(2, 7)), int(sizes.integers(1, 5))
        n = d_in + int(sizes.integers(1, 12))
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    w = (rng.normal(size=(d_in, d_out)) / np.sqrt(d_in)).astype(np.float32)
    b = rng.normal(scale=0.5, size=d_out).astype(np.float32)
    y = rng.normal(size=(n, d_out)).astype(np.float32)
    return w, b, x, y


def _torch_reference(w, b, x, y):
    """torch's way: tensors that record, F.mse_loss, backward(), then .grad."""
    tw, tb, tx = (torch.tensor(a, requires_grad=True) for a in (w, b, x))
    loss = F.mse_loss(tx @ tw + tb, torch.from_numpy(y))
    loss.backward()
    return loss.detach(), tw.grad, tb.grad, tx.grad


def _send(*arrays):
    return tuple(as_jax(a) for a in arrays)


# Exercise 1 -------------------------------------------------------------------------------------

@graded("ex01_linear_model_check", points=1)
def test_predict(student, rng, shapes):
    """predict(x, w, b) is x @ w + b, shape (n, d_out)."""
    w, b, x, _ = _linear_case(rng, shapes)
    got = student.call("predict", *_send(x, w, b))
    want = torch.from_numpy(x) @ torch.from_numpy(w) + torch.from_numpy(b)
    expect_close(got, want, f"predict(x, w, b) for x of shape {x.shape} and w of shape {w.shape}")


@graded("ex01_linear_model_check", points=1)
def test_loss_value(student, rng, shapes):
    """compute_loss(w, b, x, y) equals F.mse_loss(x @ w + b, y), a 0-d float32 jax.Array."""
    w, b, x, y = _linear_case(rng, shapes)
    got = student.call("compute_loss", *_send(w, b, x, y))
    want, *_ = _torch_reference(w, b, x, y)
    expect_close(got, want, f"compute_loss(w, b, x, y) for x of shape {x.shape} and y of shape {y.shape}")


@graded("ex01_linear_model_check", points=1)
def test_loss_under_jit(student, rng, shapes):
    """compute_loss compiled with jax.jit (the notebook's jit_loss) gives the same loss."""
    w, b, x, y = _linear_case(rng, shapes)
    got = call_transformed(student, "jit_loss", "compute_loss", "compiles it with jax.jit", *_send(w, b, x, y))
    want, *_ = _torch_reference(w, b, x, y)
    expect_close(got, want, "jit_loss(w, b, x, y), your compute_loss under jax.jit")


# Exercise 2 -------------------------------------------------------------------------------------

def _expect_dw_db(got, w, want_dw, want_db, what):
    """got should be the tuple (dw, db)."""
    if isinstance(got, StudentArray) and got.shape == w.shape:
        fail(f"{what} gave one array shaped like w, where the tuple (dw, db) was asked for.", hint="argnums")
    dw, db = expect_tuple(got, 2, what, hint="argnums" if isinstance(got, StudentArray) else None)
    expect_close(dw, want_dw, f"dw from {what}")
    expect_close(db, want_db, f"db from {what}")


@graded("ex02_grad_check", points=1)
def test_grad_of_loss(student, rng, shapes):
    """grad_of_loss returns (dw, db), equal to w.grad and b.grad after loss.backward()."""
    w, b, x, y = _linear_case(rng, shapes)
    _, want_dw, want_db, _ = _torch_reference(w, b, x, y)
    got = student.call("grad_of_loss", *_send(w, b, x, y))
    _expect_dw_db(got, w, want_dw, want_db, "grad_of_loss(w, b, x, y)")


def _loss_and_grads(student, rng, shapes):
    w, b, x, y = _linear_case(rng, shapes)
    got = student.call("loss_and_grads", *_send(w, b, x, y))
    return expect_tuple(got, 2, "loss_and_grads(w, b, x, y)"), w, _torch_reference(w, b, x, y)


@graded("ex02_grad_check", points=1)
def test_loss_and_grads_value(student, rng, shapes):
    """loss_and_grads returns the loss as its first item."""
    (loss, _), _, (want, *_) = _loss_and_grads(student, rng, shapes)
    expect_close(loss, want, "the loss from loss_and_grads(w, b, x, y)")


@graded("ex02_grad_check", points=1)
def test_loss_and_grads_gradients(student, rng, shapes):
    """loss_and_grads returns (dw, db) as its second item."""
    (_, grads), w, (_, want_dw, want_db, _) = _loss_and_grads(student, rng, shapes)
    _expect_dw_db(grads, w, want_dw, want_db, "the gradients from loss_and_grads(w, b, x, y)")


# Exercise 3 -------------------------------------------------------------------------------------

@graded("ex03_input_grad_check", points=1)
def test_input_grad(student, rng, shapes):
    """input_grad is dL/dx, shaped like x (torch: x.requires_grad_(), then x.grad)."""
    w, b, x, y = _linear_case(rng, shapes)
    *_, want_dx = _torch_reference(w, b, x, y)
    got = student.call("input_grad", *_send(w, b, x, y))
    wrong_arg = isinstance(got, StudentArray) and got.shape in (w.shape, b.shape)
    expect_close(got, want_dx, f"input_grad(w, b, x, y) for x of shape {x.shape} and w of shape {w.shape}",
           hints=["argnums"] if wrong_arg else [])


@graded("ex03_input_grad_check", points=1)
def test_input_grad_when_shapes_agree(student, rng, shapes):
    """x and w of the same shape: only the numbers tell dL/dx from dL/dw."""
    w, b, x, y = _linear_case(rng, shapes, square=True)
    _, want_dw, _, want_dx = _torch_reference(w, b, x, y)
    got = student.call("input_grad", *_send(w, b, x, y))
    is_dw = (isinstance(got, StudentArray) and got.shape == w.shape
             and bool(np.allclose(got.value, want_dw.numpy(), rtol=1e-4, atol=1e-5)))
    expect_close(got, want_dx, f"input_grad(w, b, x, y) for x and w both of shape {x.shape}",
           hints=["argnums"] if is_dw else [])


# Exercise 4 -------------------------------------------------------------------------------------

def _xent_case(rng, shapes):
    sizes = shapes("xent")
    n, d_in, classes = int(sizes.integers(6, 25)), int(sizes.integers(2, 7)), int(sizes.integers(3, 7))
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    w = rng.normal(size=(d_in, classes)).astype(np.float32)
    b = rng.normal(scale=0.2, size=classes).astype(np.float32)
    labels = rng.integers(0, classes, size=n)
    right = rng.random(n) < 0.5       # about half the labels at the largest logit: accuracy near 0.5
    labels[right] = np.argmax(x @ w + b, axis=1)[right]
    return w, b, x, labels.astype(np.int32)


def _torch_xent(w, b, x, labels):
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    logits = torch.from_numpy(x) @ tw + tb
    t_labels = torch.from_numpy(labels).long()
    loss = F.cross_entropy(logits, t_labels)
    loss.backward()
    accuracy = (logits.argmax(dim=1) == t_labels).float().mean()
    return loss.detach(), logits.detach(), accuracy, tw.grad, tb.grad


def _aux(got, what):
    expect(isinstance(got, dict) and {"logits", "accuracy"} <= set(got),
           f"{what} should be a dict with the keys 'logits' and 'accuracy'; got {show(got)}"
           f"{' with keys ' + str(sorted(got)) if isinstance(got, dict) else ''}.")
    return got


def _xent_loss(student, rng, shapes):
    w, b, x, labels = _xent_case(rng, shapes)
    got = student.call("xent_loss", *_send(w, b, x, labels))
    loss, aux = expect_tuple(got, 2, "xent_loss(w, b, x, labels)")
    return loss, _aux(aux, "aux, the second item of xent_loss(...)"), _torch_xent(w, b, x, labels)


@graded("ex04_has_aux_check", points=1)
def test_xent_loss_and_logits(student, rng, shapes):
    """xent_loss returns F.cross_entropy's loss and the logits in aux."""
    loss, aux, (want_loss, want_logits, *_) = _xent_loss(student, rng, shapes)
    expect_close(loss, want_loss, "the loss from xent_loss(w, b, x, labels)")
    expect_close(aux["logits"], want_logits, 'aux["logits"]')


@graded("ex04_has_aux_check", points=1)
def test_xent_accuracy(student, rng, shapes):
    """aux["accuracy"] is the fraction of correct argmax predictions, a 0-d float32 jax.Array."""
    _, aux, (_, _, want_accuracy, *_) = _xent_loss(student, rng, shapes)
    expect_array(aux["accuracy"], want_accuracy, what='aux["accuracy"]')


@graded("ex04_has_aux_check", points=1)
def test_xent_grads(student, rng, shapes):
    """xent_grads returns ((loss, aux), (dw, db)) with the gradients of the loss only."""
    w, b, x, labels = _xent_case(rng, shapes)
    want_loss, want_logits, _, want_dw, want_db = _torch_xent(w, b, x, labels)
    got = student.call("xent_grads", *_send(w, b, x, labels))
    value, grads = expect_tuple(got, 2, "xent_grads(w, b, x, labels)")
    loss, aux = expect_tuple(value, 2, "the first item of xent_grads(...), (loss, aux),")
    expect_close(loss, want_loss, "the loss from xent_grads(w, b, x, labels)")
    expect_close(_aux(aux, "aux from xent_grads(...)")["logits"], want_logits, 'aux["logits"] from xent_grads(...)')
    _expect_dw_db(grads, w, want_dw, want_db, "the gradients from xent_grads(w, b, x, labels)")
