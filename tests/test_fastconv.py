"""pt2jax.kit.fastconv: values and gradients equal lax.conv_general_dilated (and torch), CPU-only fast path."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from pt2jax.kit import fastconv

NHWC = ("NHWC", "HWIO", "NHWC")
ATOL = 1e-5
PADDINGS: list[Any] = [((1, 1), (1, 1)), ((0, 0), (0, 0)), "SAME", "VALID"]


def _random_case(seed: int, kernel: int, stride: int, padded: bool = True,
                 size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A random NHWC input and HWIO kernel (outputs O(1)), small enough for the fast path unless `size`."""
    rng = np.random.default_rng(seed)
    n, c, o = int(rng.integers(1, 5)), int(rng.integers(1, 13)), int(rng.integers(1, 9))
    lo = 1 if padded or kernel == 1 else kernel
    h, w = (size, size) if size is not None else (int(v) for v in rng.integers(lo, lo + 2 * stride, 2))
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    k = (rng.standard_normal((kernel, kernel, c, o)) / np.sqrt(kernel * kernel * c)).astype(np.float32)
    return x, k


def _both(fn: Any, x: np.ndarray, k: np.ndarray, stride: int, padding: Any) -> tuple[Any, Any]:
    """(ours, lax) results of `fn(conv)` for the case."""
    def ours(a: jax.Array, b: jax.Array) -> jax.Array:
        return fastconv.conv_general_dilated(a, b, (stride, stride), padding, dimension_numbers=NHWC)

    def ref(a: jax.Array, b: jax.Array) -> jax.Array:
        return lax.conv_general_dilated(a, b, (stride, stride), padding, dimension_numbers=NHWC)

    return fn(ours)(jnp.asarray(x), jnp.asarray(k)), fn(ref)(jnp.asarray(x), jnp.asarray(k))


def _value_and_grads(conv: Any) -> Any:
    def loss(a: jax.Array, b: jax.Array) -> jax.Array:
        y = conv(a, b)
        # a fixed, non-uniform cotangent so that a transposed or shifted gradient cannot pass
        return jnp.sum(y * jnp.cos(jnp.arange(y.size, dtype=y.dtype).reshape(y.shape)))

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


@pytest.mark.parametrize("padding", PADDINGS, ids=["pad1", "pad0", "SAME", "VALID"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3])
def test_values_and_gradients_match_lax(kernel: int, stride: int, padding: Any) -> None:
    fast = 0
    for seed in range(4):
        x, k = _random_case(seed, kernel, stride, padded=padding not in ("VALID", ((0, 0), (0, 0))))
        fast += fastconv.fast_path_applies(x.shape, k.shape, (stride, stride), padding, dimension_numbers=NHWC)
        (y, (dx, dk)), (y_ref, (dx_ref, dk_ref)) = _both(_value_and_grads, x, k, stride, padding)
        np.testing.assert_allclose(y, y_ref, atol=ATOL, rtol=0)
        np.testing.assert_allclose(dx, dx_ref, atol=ATOL, rtol=0)
        np.testing.assert_allclose(dk, dk_ref, atol=ATOL, rtol=0)
    assert fast >= 2, "the random shapes should mostly exercise the fast path"


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3])
def test_slicing_form_matches_lax_beyond_the_threshold(kernel: int, stride: int) -> None:
    """The formulation itself is exact at any size, also where the dispatcher keeps lax."""
    x, k = _random_case(7, kernel, stride, size=5)
    padding = ((kernel // 2,) * 2,) * 2
    y, (dx, dk) = _value_and_grads(lambda a, b: fastconv.slicing_conv(a, b, (stride, stride), padding, NHWC))(x, k)
    y_ref, (dx_ref, dk_ref) = _value_and_grads(
        lambda a, b: lax.conv_general_dilated(a, b, (stride, stride), padding, dimension_numbers=NHWC))(x, k)
    for got, want in ((y, y_ref), (dx, dx_ref), (dk, dk_ref)):
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3])
def test_matches_torch_conv2d(kernel: int, stride: int) -> None:
    torch = pytest.importorskip("torch")
    x, k = _random_case(11, kernel, stride, size=2)
    pad = kernel // 2
    y, (dx, dk) = _value_and_grads(
        lambda a, b: fastconv.conv_general_dilated(a, b, (stride, stride), ((pad, pad), (pad, pad)),
                                                   dimension_numbers=NHWC))(x, k)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    kt = torch.tensor(k.transpose(3, 2, 0, 1), requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, kt, stride=stride, padding=pad)
    n, o, ho, wo = yt.shape
    cot = torch.tensor(np.cos(np.arange(yt.numel(), dtype=np.float32)).reshape(n, ho, wo, o)).permute(0, 3, 1, 2)
    (yt * cot).sum().backward()
    np.testing.assert_allclose(y, float((yt * cot).sum().detach()), atol=ATOL * 10, rtol=1e-6)
    assert xt.grad is not None and kt.grad is not None
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), atol=ATOL, rtol=0)
    np.testing.assert_allclose(dk, kt.grad.numpy().transpose(2, 3, 1, 0), atol=ATOL, rtol=0)


def test_other_layouts_are_handled_like_lax() -> None:
    """NCHW/OIHW (torch's layout) goes through the same fast path, transposed."""
    x, k = _random_case(3, 3, 2, size=2)
    xc, kc = x.transpose(0, 3, 1, 2), k.transpose(3, 2, 0, 1)
    dn = ("NCHW", "OIHW", "NCHW")
    assert fastconv.fast_path_applies(xc.shape, kc.shape, (2, 2), "SAME", dimension_numbers=dn)
    y = jax.jit(lambda a, b: fastconv.conv_general_dilated(a, b, (2, 2), "SAME", dimension_numbers=dn))(xc, kc)
    np.testing.assert_allclose(y, lax.conv_general_dilated(xc, kc, (2, 2), "SAME", dimension_numbers=dn), atol=ATOL)


@pytest.mark.parametrize("kwargs", [{"rhs_dilation": (2, 2)}, {"lhs_dilation": (2, 1)}, {"feature_group_count": 2}],
                         ids=["rhs_dilation", "lhs_dilation", "groups"])
def test_unhandled_cases_fall_back_to_lax_exactly(kwargs: dict[str, Any]) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 2, 4)).astype(np.float32)
    k = rng.standard_normal((3, 3, 4 // kwargs.get("feature_group_count", 1), 6)).astype(np.float32)
    args = ((1, 1), ((2, 2), (2, 2)))
    assert not fastconv.fast_path_applies(x.shape, k.shape, *args, dimension_numbers=NHWC, **kwargs)
    ours = fastconv.conv_general_dilated(x, k, *args, dimension_numbers=NHWC, **kwargs)
    np.testing.assert_array_equal(ours, lax.conv_general_dilated(x, k, *args, dimension_numbers=NHWC, **kwargs))


def test_threshold_keeps_lax_where_xla_is_fast() -> None:
    big = (8, 8, 8, 16)
    assert not fastconv.fast_path_applies(big, (3, 3, 16, 16), (1, 1), "SAME", dimension_numbers=NHWC)
    # 4x4 input, stride 2 -> 2x2 output: XLA:CPU's backward is slow there, the fast path applies
    assert fastconv.fast_path_applies((8, 4, 4, 16), (3, 3, 16, 16), (2, 2), ((1, 1), (1, 1)), dimension_numbers=NHWC)
    assert not fastconv.fast_path_applies((8, 2, 2, 2, 16), (3, 3, 3, 16, 16), (1, 1, 1), "SAME")  # 3-D


def _lowered(platform: str, fn: Any, *args: Any) -> str:
    return jax.jit(fn).trace(*args).lower(lowering_platforms=(platform,)).as_text()


def test_cpu_lowering_takes_slicing_path_and_gpu_lowering_keeps_lax_conv() -> None:
    """Path chosen per platform at lowering: CPU gets matmuls, CUDA gets the untouched convolution."""
    x, k = jnp.ones((2, 2, 2, 4)), jnp.ones((3, 3, 4, 5))

    def loss(a: jax.Array, b: jax.Array) -> jax.Array:
        return fastconv.conv_general_dilated(a, b, (1, 1), ((1, 1), (1, 1)), dimension_numbers=NHWC).sum()

    grad = jax.grad(loss, argnums=(0, 1))
    for fn in (loss, grad):
        cpu = _lowered("cpu", fn, x, k)
        assert "stablehlo.dot_general" in cpu and "stablehlo.convolution" not in cpu
        try:
            gpu = _lowered("cuda", fn, x, k)
        except Exception as exc:  # a jaxlib without CUDA lowering rules cannot answer this
            pytest.skip(f"no CUDA lowering in this jaxlib: {exc}")
        assert "stablehlo.convolution" in gpu and "stablehlo.dot_general" not in gpu


def test_cpu_lowering_equals_lax_lowering_where_no_fast_path() -> None:
    x, k = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 5))
    ours = _lowered("cpu", lambda a, b: fastconv.conv_general_dilated(a, b, (1, 1), "SAME", dimension_numbers=NHWC),
                    x, k)
    ref = _lowered("cpu", lambda a, b: lax.conv_general_dilated(a, b, (1, 1), "SAME", dimension_numbers=NHWC), x, k)
    assert ours == ref


def test_nnx_conv_opt_in() -> None:
    """`from pt2jax_fastconv import Conv` is nnx.Conv with the fast convolution; same parameters, same output."""
    nnx = pytest.importorskip("flax.nnx")
    ours = fastconv.Conv(4, 6, (3, 3), strides=2, padding=((1, 1), (1, 1)), rngs=nnx.Rngs(0))
    ref = nnx.Conv(4, 6, (3, 3), strides=2, padding=((1, 1), (1, 1)), rngs=nnx.Rngs(0))
    assert isinstance(ours, nnx.Conv) and ours.conv_general_dilated is fastconv.conv_general_dilated
    x = jnp.asarray(np.random.default_rng(0).standard_normal((3, 4, 4, 4)), jnp.float32)
    np.testing.assert_allclose(nnx.jit(lambda m, a: m(a))(ours, x), ref(x), atol=ATOL)
    y = nnx.Conv(4, 6, (3, 3), conv_general_dilated=fastconv.conv_general_dilated, rngs=nnx.Rngs(0))(x[:, :2, :2])
    assert y.shape == (3, 2, 2, 6)


def test_module_is_standalone() -> None:
    """Shipped verbatim as pt2jax_fastconv.py: it may import only jax, numpy, the stdlib (flax lazily)."""
    tree = ast.parse(Path(fastconv.__file__).read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {(node.module or "").split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert top <= {"__future__", "functools", "collections", "typing", "jax", "numpy"}, top


def test_eager_grad_without_jit() -> None:
    """platform_dependent also resolves outside jit (op-by-op), values and gradients included."""
    x, k = _random_case(2, 3, 1, size=2)
    args = ((1, 1), ((1, 1), (1, 1)))
    grads = jax.grad(lambda a, b: fastconv.conv_general_dilated(a, b, *args, dimension_numbers=NHWC).sum(), (0, 1))(
        x, k)
    ref = jax.grad(lambda a, b: lax.conv_general_dilated(a, b, *args, dimension_numbers=NHWC).sum(), (0, 1))(x, k)
    for got, want in zip(grads, ref, strict=True):
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
