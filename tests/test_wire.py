"""Tests of pt2jax.grade.wire and the kernel-side helper it talks to (loaded as the grader sends it)."""

from __future__ import annotations

import ast
import base64
import builtins
import io
import json
import pickle
import sys
import warnings
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from pt2jax.grade import wire
from pt2jax.grade.wire import (
    MIME,
    Opaque,
    StudentArray,
    WireError,
    as_jax,
    as_torch,
    decode_reply,
    decode_value,
    encode_args,
    prng_key,
)

KERNEL_SOURCE = resources.files("pt2jax.grade").joinpath("kernel_side.py").read_text()

NUMPY_DTYPES = [
    "bool", "int8", "uint8", "int16", "uint16", "int32", "int64", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
]


@pytest.fixture(scope="module")
def kernel():
    """The kernel-side helpers, exec'd from source into a fresh namespace."""
    namespace: dict = {}
    exec(compile(KERNEL_SOURCE, "<pt2jax kernel side>", "exec"), namespace)
    return namespace


def to_kernel(kernel, value):
    """Grader → kernel: encode_args, through JSON, decoded by the kernel side."""
    return kernel["__pt2jax_decode"](json.loads(json.dumps(encode_args(value))))


def from_kernel(kernel, value):
    """Kernel → grader: the kernel side's encoder, through JSON, decode_value."""
    return decode_value(json.loads(json.dumps(kernel["__pt2jax_encode"](value))))


def _sample(dtype: str, shape=(2, 3), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    kind = np.dtype(dtype).kind
    if kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    if kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def _b64npy(array: np.ndarray, allow_pickle: bool = False) -> str:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _array_msg(npy: str, **extra) -> dict:
    return {"__array__": {"kind": "numpy.ndarray", "dtype": "float32", "npy": npy, **extra}}


def test_mime_matches_kernel_side(kernel):
    assert kernel["_MIME"] == MIME


def test_kernel_side_is_standalone():
    """The student's sandbox cannot import pt2jax: the helper must not need it."""
    tree = ast.parse(KERNEL_SOURCE)
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0
            modules.add((node.module or "").split(".")[0])
    assert "pt2jax" not in modules
    third_party = modules - set(sys.stdlib_module_names)
    assert third_party <= {"numpy", "jax", "torch", "IPython", "flax"}


# --------------------------------------------------------------------------- grader → kernel


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**40, 1.5, float("inf"), "héllo"])
def test_scalars_to_kernel(kernel, value):
    got = to_kernel(kernel, value)
    assert got == value
    assert type(got) is type(value)


def test_numpy_scalars_to_kernel_become_python_numbers(kernel):
    assert to_kernel(kernel, np.float32(1.5)) == 1.5
    assert type(to_kernel(kernel, np.int64(3))) is int
    assert to_kernel(kernel, np.bool_(True)) is True


def test_nested_containers_to_kernel(kernel):
    value = (1, [2, (3, "x")], {"a": (4,), "b": [None, {"c": 2.5}]}, ())
    got = to_kernel(kernel, value)
    assert got == value
    assert type(got) is tuple
    assert type(got[1]) is list
    assert type(got[1][1]) is tuple
    assert type(got[2]) is dict
    assert type(got[2]["a"]) is tuple


def test_call_arguments_as_the_probe_sends_them(kernel):
    """Positional args go as a list, keyword args as a dict."""
    args = to_kernel(kernel, [np.arange(3), 2])
    kwargs = to_kernel(kernel, {"axis": 0, "keepdims": True})
    assert isinstance(args, list)
    np.testing.assert_array_equal(args[0], np.arange(3))
    assert kwargs == {"axis": 0, "keepdims": True}


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_numpy_arrays_to_kernel(kernel, dtype):
    x = _sample(dtype)
    got = to_kernel(kernel, x)
    assert type(got) is np.ndarray
    assert got.dtype == x.dtype
    assert got.shape == x.shape
    np.testing.assert_array_equal(got, x)


def test_non_contiguous_array_to_kernel(kernel):
    x = np.arange(12, dtype=np.int32).reshape(3, 4).T[::2]
    got = to_kernel(kernel, x)
    np.testing.assert_array_equal(got, x)
    assert got.shape == (2, 3)


def test_zero_dim_array_to_kernel(kernel):
    got = to_kernel(kernel, np.array(5, np.int32))
    assert got.shape == ()


def test_zero_dim_as_jax_to_kernel(kernel):
    got = to_kernel(kernel, as_jax(np.float32(2.5)))
    assert got.shape == ()


def test_as_jax_uncommitted(kernel):
    x = _sample("float32", (3, 2), seed=1)
    got = to_kernel(kernel, as_jax(x))
    assert isinstance(got, jax.Array)
    assert got.dtype == jnp.float32
    assert got.committed is False
    np.testing.assert_array_equal(np.asarray(got), x)


def test_as_jax_committed_to_device(kernel):
    got = to_kernel(kernel, as_jax(np.arange(4, dtype=np.int32), device=0))
    assert isinstance(got, jax.Array)
    assert got.committed is True
    assert got.devices() == {jax.devices("cpu")[0]}
    np.testing.assert_array_equal(np.asarray(got), np.arange(4))


def test_as_jax_int64_becomes_default_int32(kernel):
    """Without x64 a jax.Array made from int64 data is int32, as in the student's notebook."""
    got = to_kernel(kernel, as_jax(np.arange(3, dtype=np.int64)))
    assert got.dtype == jnp.int32


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool", "uint8"])
def test_as_torch(kernel, dtype):
    x = _sample(dtype, (2, 2), seed=2)
    got = to_kernel(kernel, as_torch(x))
    assert isinstance(got, torch.Tensor)
    assert str(got.dtype) == f"torch.{dtype}"
    np.testing.assert_array_equal(got.numpy(), x)


def test_prng_key_to_kernel(kernel):
    got = to_kernel(kernel, prng_key(1234))
    assert jax.dtypes.issubdtype(got.dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(
        np.asarray(jax.random.key_data(got)), np.asarray(jax.random.key_data(jax.random.key(1234)))
    )


def test_wrapped_values_inside_containers(kernel):
    got = to_kernel(kernel, {"x": as_torch(np.ones(2, np.float32)), "k": [prng_key(0)]})
    assert isinstance(got["x"], torch.Tensor)
    assert jax.dtypes.issubdtype(got["k"][0].dtype, jax.dtypes.prng_key)


@pytest.mark.parametrize(
    "value", [object(), {1, 2}, torch.zeros(2), jnp.zeros(2), b"bytes", [1, object()]]
)
def test_encode_args_refuses_other_types(value):
    with pytest.raises(TypeError, match="cannot send"):
        encode_args(value)


def test_encoded_arguments_are_plain_json():
    encoded = encode_args([as_jax(np.ones(2)), {"a": (np.arange(2),)}, prng_key(3)])
    assert json.loads(json.dumps(encoded)) == encoded


# --------------------------------------------------------------------------- kernel → grader


@pytest.mark.parametrize("value", [None, True, False, 0, -3, 2**62, 0.1, float("-inf"), "ünï"])
def test_scalars_from_kernel(kernel, value):
    got = from_kernel(kernel, value)
    assert got == value
    assert type(got) is type(value)


def test_nested_containers_from_kernel(kernel):
    value = {"a": (1, [2.5, None]), "b": [(), {"c": "d"}]}
    got = from_kernel(kernel, value)
    assert got == value
    assert type(got["a"]) is tuple
    assert type(got["b"]) is list


def test_dict_with_non_string_keys_is_opaque(kernel):
    assert from_kernel(kernel, {1: 2}) == Opaque("builtins.dict")


def test_unknown_objects_are_opaque(kernel):
    class Widget:
        pass

    got = from_kernel(kernel, Widget())
    assert isinstance(got, Opaque)
    assert got.type_name.endswith("Widget")
    assert from_kernel(kernel, {1, 2}) == Opaque("builtins.set")


def test_deep_nesting_from_kernel_is_cut_off(kernel):
    value: list = [1]
    for _ in range(40):
        value = [value]
    got = from_kernel(kernel, value)
    inner = got
    while isinstance(inner, list):
        inner = inner[0]
    assert inner == Opaque("nested too deeply")


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_numpy_arrays_from_kernel(kernel, dtype):
    x = _sample(dtype, (3, 2), seed=3)
    got = from_kernel(kernel, x)
    assert isinstance(got, StudentArray)
    assert (got.kind, got.dtype, got.shape) == ("numpy.ndarray", dtype, (3, 2))
    assert got.value.dtype == x.dtype
    np.testing.assert_array_equal(got.value, x)
    assert (got.weak_type, got.device, got.committed) == (None, None, None)


def test_numpy_generic_from_kernel(kernel):
    got = from_kernel(kernel, np.int16(-4))
    assert isinstance(got, StudentArray)
    assert (got.kind, got.dtype) == ("numpy.generic", "int16")
    assert got.value.dtype == np.int16
    assert got.value.ravel().tolist() == [-4]


def test_jax_array_from_kernel(kernel):
    x = jnp.arange(6, dtype=jnp.int32).reshape(2, 3)
    got = from_kernel(kernel, x)
    assert (got.kind, got.dtype, got.shape) == ("jax.Array", "int32", (2, 3))
    assert got.weak_type is False
    assert got.committed is False
    assert got.device
    np.testing.assert_array_equal(got.value, np.asarray(x))
    assert got.facts.describe() == "jax.Array of dtype int32 and shape (2, 3)"


def test_jax_weak_type_from_kernel(kernel):
    assert from_kernel(kernel, jnp.broadcast_to(1.0, (3,))).weak_type is True
    assert from_kernel(kernel, jnp.ones(3)).weak_type is False
    scalar = from_kernel(kernel, jnp.asarray(2.0))
    assert scalar.weak_type is True
    assert scalar.value.ravel().tolist() == [2.0]


def test_jax_committed_from_kernel(kernel):
    device = jax.devices("cpu")[0]
    got = from_kernel(kernel, jax.device_put(jnp.zeros(2), device))
    assert got.committed is True
    assert got.device == str(device)


def test_jax_bfloat16_from_kernel(kernel):
    got = from_kernel(kernel, jnp.array([1.5, -2.0], dtype=jnp.bfloat16))
    assert (got.kind, got.dtype) == ("jax.Array", "bfloat16")
    assert got.value.dtype == np.float32
    np.testing.assert_array_equal(got.value, [1.5, -2.0])


@pytest.mark.parametrize(
    ("tensor", "dtype"),
    [
        (torch.tensor([[1, 2], [3, 4]]), "int64"),
        (torch.tensor([0.5, 1.5]), "float32"),
        (torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True), "float64"),
        (torch.tensor([True, False]), "bool"),
        (torch.nn.Parameter(torch.ones(2)), "float32"),
    ],
)
def test_torch_tensor_from_kernel(kernel, tensor, dtype):
    got = from_kernel(kernel, tensor)
    assert (got.kind, got.dtype, got.shape) == ("torch.Tensor", dtype, tuple(tensor.shape))
    assert got.device == "cpu"
    assert got.value.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.value, tensor.detach().numpy())


def test_torch_bfloat16_from_kernel(kernel):
    tensor = torch.tensor([1.5, -0.25, 3.0], dtype=torch.bfloat16)
    got = from_kernel(kernel, tensor)
    assert (got.kind, got.dtype, got.shape) == ("torch.Tensor", "bfloat16", (3,))
    assert got.value.dtype == np.float32
    np.testing.assert_array_equal(got.value, [1.5, -0.25, 3.0])


def test_torch_float16_value_keeps_its_dtype(kernel):
    got = from_kernel(kernel, torch.tensor([0.5, 1.5], dtype=torch.float16))
    assert got.dtype == "float16"
    assert got.value.dtype == np.float16


def test_prng_key_from_kernel(kernel):
    key = jax.random.key(42)
    got = from_kernel(kernel, key)
    assert got.kind == "jax.PRNGKey"
    assert got.dtype == str(key.dtype)
    np.testing.assert_array_equal(got.value, np.asarray(jax.random.key_data(key)))


@pytest.mark.parametrize("n", [None, 3])
def test_prng_key_shape_from_kernel(kernel, n):
    key = jax.random.key(42) if n is None else jax.random.split(jax.random.key(42), n)
    assert from_kernel(kernel, key).shape == tuple(key.shape)


@pytest.mark.parametrize(
    "value",
    [jnp.asarray(2.0), jnp.sum(jnp.arange(4)), np.float32(1.0), np.array(3), torch.tensor(1.5)],
    ids=["jax-weak", "jax-sum", "np-generic", "np-0d", "torch-0d"],
)
def test_zero_dim_results_keep_shape(kernel, value):
    assert from_kernel(kernel, value).shape == ()


# --------------------------------------------------------------------------- hostile payloads


class _Evil:
    """Unpickling this would run code in the grader."""

    def __reduce__(self):
        return (builtins.exec, ("import sys; sys.pt2jax_pwned = True",))


def test_object_npy_is_refused_without_unpickling():
    npy = _b64npy(np.array([_Evil(), 1], dtype=object), allow_pickle=True)
    with pytest.raises(WireError, match="unreadable"):
        decode_value(_array_msg(npy))
    assert not hasattr(sys, "pt2jax_pwned")


def test_raw_pickle_payload_is_refused():
    npy = base64.b64encode(pickle.dumps(_Evil())).decode("ascii")
    with pytest.raises(WireError):
        decode_value(_array_msg(npy))
    assert not hasattr(sys, "pt2jax_pwned")


@pytest.mark.parametrize(
    "array",
    [
        np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]),
        np.array(["a", "bc"]),
        np.array([b"x"]),
        np.array(["2024-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype="timedelta64[s]"),
        np.zeros(2, dtype="V4"),
    ],
    ids=["structured", "unicode", "bytes", "datetime", "timedelta", "void"],
)
def test_non_numeric_arrays_are_refused(array):
    with pytest.raises(WireError, match="not a plain numeric array"):
        decode_value(_array_msg(_b64npy(array)))


def test_npz_payload_is_refused():
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(3))
    npy = base64.b64encode(buf.getvalue()).decode("ascii")
    with pytest.raises(WireError):
        decode_value(_array_msg(npy))


def test_huge_claimed_shape_is_refused():
    buf = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": (2**40,)}
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(b"\0" * 16)
    with pytest.raises(WireError):
        decode_value(_array_msg(base64.b64encode(buf.getvalue()).decode("ascii")))


@pytest.mark.parametrize("npy", ["not base64!!", "QUJD=", "QUJDRA==" + "x", "", "AAAA"])
def test_bad_base64_or_truncated_npy_is_refused(npy):
    with pytest.raises(WireError):
        decode_value(_array_msg(npy))


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "builtins.list", "dtype": "int32", "npy": None},
        {"kind": "numpy.ndarray", "npy": None},
        {"kind": "numpy.ndarray", "dtype": 5, "npy": None},
        {"kind": "numpy.ndarray", "dtype": "int32"},
        {"kind": "numpy.ndarray", "dtype": "int32", "npy": ["AAAA"]},
    ],
)
def test_malformed_array_bodies_are_refused(body):
    body = {k: (_b64npy(np.arange(2)) if k == "npy" and v is None else v) for k, v in body.items()}
    with pytest.raises(WireError, match="malformed array"):
        decode_value({"__array__": body})


def test_array_metadata_is_sanitised():
    got = decode_value(_array_msg(
        _b64npy(np.arange(3, dtype=np.int32)),
        dtype="x" * 500, weak_type="yes", committed=1, device="d" * 1000,
    ))
    assert isinstance(got, StudentArray)
    assert got.dtype == "x" * 40
    assert got.weak_type is None
    assert got.committed is None
    assert got.device == "d" * 200
    assert got.shape == (3,)


def test_opaque_type_name_is_truncated():
    assert decode_value({"__opaque__": "m" * 1000}) == Opaque("m" * 200)


@pytest.mark.parametrize(
    "obj",
    [
        {"__pickle__": "x"},
        {"__ndarray__": _b64npy(np.arange(2))},
        {"__jax__": {"npy": _b64npy(np.arange(2)), "device": None}},
        {"__key__": 0},
        {"__tuple__": "abc"},
        {"__dict__": {"a": 1}},
        {"__array__": "AAAA"},
        {"__opaque__": 3},
    ],
)
def test_unknown_tags_are_refused(obj):
    with pytest.raises(WireError, match="unknown tag"):
        decode_value(obj)


@pytest.mark.parametrize("obj", [{"__tuple__": [], "__opaque__": "x"}, {}, {"a": 1, "b": 2}])
def test_dicts_must_have_exactly_one_key(obj):
    with pytest.raises(WireError, match="unexpected value"):
        decode_value(obj)


@pytest.mark.parametrize(
    "pairs", [[[1, 2]], [[None, 2]], [["a"]], [["a", 1, 2]], ["ab"], [("a", 1)]]
)
def test_malformed_dict_entries_are_refused(pairs):
    with pytest.raises(WireError, match="malformed dict entry"):
        decode_value({"__dict__": pairs})


@pytest.mark.parametrize("wrap", ["list", "tuple", "dict"])
def test_too_deep_nesting_is_refused(wrap):
    def nest(depth: int):
        value: object = 0
        for _ in range(depth):
            if wrap == "list":
                value = [value]
            elif wrap == "tuple":
                value = {"__tuple__": [value]}
            else:
                value = {"__dict__": [["k", value]]}
        return value

    assert decode_value(nest(10)) is not None
    with pytest.raises(WireError, match="nested too deeply"):
        decode_value(nest(100))


@pytest.mark.parametrize("obj", [b"bytes", 1j, object(), (1, 2)])
def test_non_json_python_values_are_refused(obj):
    with pytest.raises(WireError):
        decode_value(obj)


# --------------------------------------------------------------------------- decode_reply


def test_decode_reply_accepts_an_object():
    assert decode_reply('{"nonce": "ab", "value": [1, 2]}') == {"nonce": "ab", "value": [1, 2]}


@pytest.mark.parametrize("text", ["", "not json", "{'a': 1}", '{"a": 1', "\x00"])
def test_decode_reply_refuses_non_json(text):
    with pytest.raises(WireError, match="not JSON"):
        decode_reply(text)


@pytest.mark.parametrize("text", ["[1, 2]", '"text"', "3", "null"])
def test_decode_reply_refuses_non_objects(text):
    with pytest.raises(WireError, match="not a JSON object"):
        decode_reply(text)


def test_decode_reply_refuses_oversize():
    text = '{"value": "' + "a" * wire.MAX_REPLY_BYTES + '"}'
    with pytest.raises(WireError, match="exceeds"):
        decode_reply(text)


def test_decode_reply_size_limit_is_checked_before_parsing(monkeypatch):
    monkeypatch.setattr(wire, "MAX_REPLY_BYTES", 16)
    assert decode_reply('{"a": 1}') == {"a": 1}
    with pytest.raises(WireError, match="exceeds"):
        decode_reply('{"a": "0123456789"}')


def test_decode_reply_refuses_deeply_nested_json():
    with pytest.raises(WireError):
        decode_reply("[" * 100_000 + "]" * 100_000)


def test_decode_reply_refuses_huge_integer_literal():
    with pytest.raises(WireError):
        decode_reply('{"value": ' + "1" * 5000 + "}")


# ------------------------------------------------------------------ one description of an array
def _facts_cases() -> list[tuple[str, object]]:
    """Every kind of array-like the wire can meet, including the awkward dtypes and views."""
    cases: list[tuple[str, object]] = [(f"numpy-{d}", _sample(d, (2, 3), seed=5)) for d in NUMPY_DTYPES]
    cases += [("numpy-generic", np.float16(1.5)), ("numpy-0d", np.array(3, dtype=np.int8))]
    for d in ("float32", "int32", "bool", "bfloat16", "float16", "complex64", "float8_e4m3fn", "uint8"):
        cases.append((f"jax-{d}", jnp.asarray(_sample("float32", (3, 2), seed=6)).astype(d)))
    cases += [("jax-weak", jnp.broadcast_to(1.0, (2,))), ("jax-key", jax.random.key(3)),
              ("jax-keys", jax.random.split(jax.random.key(1), 4)), ("jax-raw-key", jax.random.PRNGKey(0))]
    cases.append(("jax-float0", jax.grad(lambda x, n: x * 1.0, allow_int=True, argnums=1)(1.0, 3)))
    base = torch.from_numpy(_sample("float32", (2, 3), seed=7))
    for d in ("float32", "float64", "bfloat16", "float16", "int64", "int16", "uint8", "bool",
              "complex64", "complex128", "complex32", "float8_e4m3fn", "float8_e5m2"):
        dt = getattr(torch, d if d != "complex32" else "chalf")
        src = torch.complex(base, -base) if dt.is_complex else base * 7
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "ComplexHalf support is experimental"
            cases.append((f"torch-{d}", src.to(dt)))
    z = torch.complex(base, base)
    cases += [("torch-conj", z.conj()), ("torch-neg-view", torch._neg_view(base)),
              ("torch-requires-grad", base.clone().requires_grad_()), ("torch-parameter", torch.nn.Parameter(base)),
              ("torch-transposed", base.t()), ("torch-0d", torch.tensor(2.5))]
    return cases


FACTS_CASES = _facts_cases()


@pytest.mark.parametrize("obj", [c for _, c in FACTS_CASES], ids=[n for n, _ in FACTS_CASES])
def test_self_check_and_grader_describe_arrays_alike(kernel, obj):
    """The student's self-check (kit.check.facts_of, in their kernel) and the grader (kernel-side encoder
    → wire) must see the same kind, dtype, shape and values, or they would explain a slip differently."""
    from pt2jax.kit.check import facts_of

    mine = facts_of(obj)
    sent = from_kernel(kernel, obj)
    if isinstance(sent, Opaque):  # not data (float0): the self-check must not call it an array either
        assert mine is None
        return
    assert isinstance(sent, StudentArray) and mine is not None
    theirs = sent.facts
    assert (mine.kind, mine.dtype, mine.shape) == (theirs.kind, theirs.dtype, theirs.shape)
    assert mine.value.dtype == theirs.value.dtype
    np.testing.assert_array_equal(mine.value, theirs.value)


class _Spoof:
    """Issue 13 item 16: a plain class that names itself jaxlib's and claims a committed device."""

    __module__ = "jaxlib.xla_extension"
    committed = True
    weak_type = False

    def __init__(self, value):
        self._value = np.asarray(value)
        self.dtype, self.shape = self._value.dtype, self._value.shape

    def devices(self):
        return {"TFRT_CPU_1"}

    def __array__(self, *args, **kwargs):
        return self._value


_Spoof.__qualname__ = "ArrayImpl"
_Spoof.__name__ = "ArrayImpl"


class _FakeTensor:
    __module__ = "torch"
    dtype, device = "torch.float32", "cpu"

    def __init__(self, value):
        self._value = np.asarray(value, np.float32)

    def detach(self):
        return self


_FakeTensor.__name__ = "Tensor"


@pytest.mark.parametrize("spoof", [_Spoof(np.arange(3.0, dtype=np.float32)), _FakeTensor([1.0, 2.0])])
def test_objects_that_claim_to_be_arrays_are_not_taken_for_them(kernel, spoof):
    """Classified by the real classes, not by __module__ strings or attributes the object defines."""
    from pt2jax.kit.check import facts_of

    sent = from_kernel(kernel, spoof)
    assert isinstance(sent, Opaque), sent
    assert facts_of(spoof) is None
