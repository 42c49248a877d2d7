"""Hidden checks for Part 2 of 02_autodiff: parameters as pytrees (exercises 5 to 7)."""

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from pt2jax.checks import (
    Opaque,
    StudentArray,
    as_jax,
    call_keeping_inputs,
    expect,
    expect_close,
    fail,
    graded,
)

# Trees: nested dicts and lists with NumPy arrays (grader side), StudentArrays (student results) or
# torch tensors at the leaves.

def _tree_map(f, tree):
    if isinstance(tree, dict):
        return {k: _tree_map(f, v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_tree_map(f, v) for v in tree]
    return f(tree)


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    if isinstance(tree, list | tuple):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


def _structure(tree):
    """The nesting of a tree as text, leaves shown as *, e.g. {'b': *, 'w': *}."""
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k!r}: {_structure(tree[k])}" for k in sorted(tree)) + "}"
    if isinstance(tree, list):
        return "[" + ", ".join(_structure(v) for v in tree) + "]"
    if isinstance(tree, tuple):
        return "(" + ", ".join(_structure(v) for v in tree) + ("," if len(tree) == 1 else "") + ")"
    if isinstance(tree, StudentArray | np.ndarray | torch.Tensor):
        return "*"
    return tree.type_name if isinstance(tree, Opaque) else type(tree).__name__


def _expect_structure(got, like, what):
    want, shown = _structure(like), _structure(got)
    expect(shown == want,
           f"{what} should have the structure of the parameters, {want}; got"
           f" {shown if len(shown) <= 300 else shown[:300] + '...'}.", hint="grad_structure")


def _expect_tree_close(got, want, what, path=""):
    """Leaf by leaf, after _expect_structure (want: a tree of torch tensors)."""
    if isinstance(want, dict):
        for k in sorted(want):
            _expect_tree_close(got[k], want[k], what, f"{path}[{k!r}]")
    elif isinstance(want, list):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _expect_tree_close(g, w, what, f"{path}[{i}]")
    else:
        expect_close(got, want, f"{what}{path}")


def _trees_close(got, want):
    """Whether a student tree matches a torch tree (for choosing a hint; never decides a check)."""
    if _structure(got) != _structure(want):
        return False
    return all(isinstance(g, StudentArray) and g.shape == tuple(w.shape)
               and bool(np.allclose(g.value, w.detach().numpy(), rtol=1e-4, atol=1e-5))
               for g, w in zip(_leaves(got), _leaves(want), strict=True))


def _mlp_params(rng, n_hidden, layout=None):
    sizes = [int(s) for s in (layout or rng).integers(2, 7, size=n_hidden + 2)]
    layers = [{"w": (rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32),
               "b": rng.normal(scale=0.3, size=fan_out).astype(np.float32)}
              for fan_in, fan_out in itertools.pairwise(sizes)]
    return {"hidden": layers[:-1], "out": layers[-1]}, sizes


def _mlp_data(rng, sizes, *batch):
    x = rng.normal(size=(*batch, sizes[0])).astype(np.float32)
    y = rng.normal(size=(*batch, sizes[-1])).astype(np.float32)
    return x, y


def _send(tree):
    return _tree_map(as_jax, tree)


def _torch_params(params):
    return _tree_map(lambda a: torch.tensor(a, requires_grad=True), params)


def _torch_mlp_loss(tparams, x, y):
    h = torch.from_numpy(x)
    for layer in tparams["hidden"]:
        h = torch.relu(h @ layer["w"] + layer["b"])
    return F.mse_loss(h @ tparams["out"]["w"] + tparams["out"]["b"], torch.from_numpy(y))


def _grads(tparams):
    return _tree_map(lambda t: t.grad, tparams)


# Exercise 5 -------------------------------------------------------------------------------------

@graded("ex05_mlp_grads_check", points=1)
def test_mlp_loss(student, rng):
    """mlp_loss equals the torch MLP's F.mse_loss (relu hidden layers, linear output)."""
    params, sizes = _mlp_params(rng, int(rng.integers(1, 4)))
    x, y = _mlp_data(rng, sizes, int(rng.integers(3, 12)))
    got = student.call("mlp_loss", _send(params), as_jax(x), as_jax(y))
    want = _torch_mlp_loss(_torch_params(params), x, y)
    expect_close(got, want, f"mlp_loss(params, x, y) for layer sizes {sizes}")


def _mlp_grads(student, rng, shapes):
    # the structure and the values checks share one network shape and batch: one compile
    layout = shapes("mlp_grads")
    params, sizes = _mlp_params(rng, int(layout.integers(2, 4)), layout)
    x, y = _mlp_data(rng, sizes, int(layout.integers(3, 12)))
    got = student.call("mlp_grads", _send(params), as_jax(x), as_jax(y))
    tparams = _torch_params(params)
    _torch_mlp_loss(tparams, x, y).backward()
    _expect_structure(got, params, f"mlp_grads(params, x, y) for layer sizes {sizes}")
    return got, _grads(tparams)


@graded("ex05_mlp_grads_check", points=1)
def test_mlp_grads_structure(student, rng, shapes):
    """mlp_grads returns a tree with the structure of params: dict, list of dicts, dict."""
    _mlp_grads(student, rng, shapes)


@graded("ex05_mlp_grads_check", points=1)
def test_mlp_grads_values(student, rng, shapes):
    """Every leaf of mlp_grads equals the .grad of the matching torch parameter."""
    got, want = _mlp_grads(student, rng, shapes)
    _expect_tree_close(got, want, "grads")


# Exercise 6 -------------------------------------------------------------------------------------

def _sgd_case(student, rng, params, keep_inputs=False):
    grads = _tree_map(lambda a: rng.normal(size=a.shape).astype(np.float32), params)
    lr = float(np.float32(rng.uniform(0.01, 0.5)))
    call = (lambda *a: call_keeping_inputs(student, *a)) if keep_inputs else student.call
    got = call("sgd_update", _send(params), _send(grads), lr)
    tparams = _tree_map(torch.tensor, params)
    with torch.no_grad():
        for p, g in zip(_leaves(tparams), _leaves(grads), strict=True):
            p -= lr * torch.from_numpy(g)
    what = f"sgd_update(params, grads, {lr:g})"
    _expect_structure(got, params, what)
    _expect_tree_close(got, tparams, "the new params")


@graded("ex06_sgd_update_check", points=1)
def test_sgd_flat_dict(student, rng):
    """params {"w", "b"}: each leaf becomes p - lr * g, still in a dict."""
    params, _ = _mlp_params(rng, 0)
    _sgd_case(student, rng, params["out"])


@graded("ex06_sgd_update_check", points=1)
def test_sgd_nested_tree(student, rng):
    """A nested tree (dict of a list of dicts and a dict) keeps its structure; the params and grads
    passed in are left unchanged (the self-check says so)."""
    params, _ = _mlp_params(rng, int(rng.integers(2, 4)))
    _sgd_case(student, rng, params, keep_inputs=True)


# Exercise 7 -------------------------------------------------------------------------------------

@graded("ex07_accumulate_check", points=2)
def test_accumulated_grads(student, rng):
    """accumulate_grads is the mean of the micro-batch gradients: torch's (loss / k).backward() per
    micro-batch without zero_grad()."""
    params, sizes = _mlp_params(rng, int(rng.integers(1, 3)))
    k, m = int(rng.integers(2, 6)), int(rng.integers(2, 7))
    xs, ys = _mlp_data(rng, sizes, k, m)
    got = student.call("accumulate_grads", _send(params), as_jax(xs), as_jax(ys))
    tparams = _torch_params(params)
    for x, y in zip(xs, ys, strict=True):
        (_torch_mlp_loss(tparams, x, y) / k).backward()
    what = f"accumulate_grads(params, xs, ys) for {k} micro-batches of {m} examples"
    _expect_structure(got, params, what)
    last = _torch_params(params)
    _torch_mlp_loss(last, xs[-1], ys[-1]).backward()
    if _trees_close(got, _grads(last)):
        fail(f"{what} returned the gradients of the last micro-batch only: in JAX nothing accumulates"
             " by itself.", hint="accumulated_grads")
    if _trees_close(got, _tree_map(lambda g: g * k, _grads(tparams))):
        fail(f"{what} returned the sum of the micro-batch gradients; the mean was asked for.")
    _expect_tree_close(got, _grads(tparams), "the accumulated grads")


@graded("ex07_accumulate_check", points=1)
def test_global_norm(student, rng):
    """global_norm(tree) equals torch.nn.utils.get_total_norm of the leaves, as a 0-d float32 jax.Array."""
    shapes = [tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(0, 3)))) for _ in range(4)]
    arrays = [rng.normal(scale=float(rng.uniform(0.1, 3.0)), size=s).astype(np.float32) for s in shapes]
    tree = {"layers": [{"w": arrays[0], "b": arrays[1]}, {"w": arrays[2]}], "scale": arrays[3]}
    got = student.call("global_norm", _send(tree))
    want = torch.nn.utils.get_total_norm([torch.from_numpy(a) for a in arrays])
    expect_close(got, want, f"global_norm of a tree with leaves of shapes {shapes}")
