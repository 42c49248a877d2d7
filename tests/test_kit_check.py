"""Tests of pt2jax.kit.check (shipped as pt2jax_check.py): array facts, comparisons, self-checks,
environment check, hints."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from pt2jax.kit import check as studentkit
from pt2jax.kit.check import (
    MISCONCEPTIONS,
    ArrayFacts,
    Mismatch,
    check,
    check_array,
    check_environment,
    compare_arrays,
    facts_of,
    hint_text,
)

REPO = Path(__file__).resolve().parents[1]


def _facts(obj):
    facts = facts_of(obj)
    assert facts is not None, f"facts_of({obj!r}) returned None"
    return facts


def _compare(got, want, **kwargs):
    return compare_arrays(_facts(got), _facts(want), **kwargs)


def _compare_facts(got_facts, want, **kwargs):
    return compare_arrays(got_facts, _facts(want), **kwargs)


# --------------------------------------------------------------------------- facts_of


def test_facts_of_jax_array():
    """A jax.Array gives kind jax.Array, its dtype, shape and values."""
    x = jnp.arange(6, dtype=jnp.int32).reshape(2, 3)
    facts = _facts(x)
    assert facts.kind == "jax.Array"
    assert facts.dtype == "int32"
    assert facts.shape == (2, 3)
    assert isinstance(facts.value, np.ndarray)
    np.testing.assert_array_equal(facts.value, np.arange(6).reshape(2, 3))


def test_facts_of_jax_bfloat16_keeps_dtype_name():
    facts = _facts(jnp.array([1.5, -2.0], dtype=jnp.bfloat16))
    assert facts.dtype == "bfloat16"
    np.testing.assert_array_equal(facts.value.astype(np.float32), [1.5, -2.0])


def test_facts_of_numpy_array_and_scalar():
    arr = _facts(np.ones((4, 1), dtype=np.float64))
    assert (arr.kind, arr.dtype, arr.shape) == ("numpy.ndarray", "float64", (4, 1))
    scalar = _facts(np.float32(1.5))
    assert (scalar.kind, scalar.dtype, scalar.shape) == ("numpy.generic", "float32", ())
    assert scalar.value == np.float32(1.5)


@pytest.mark.parametrize(
    ("tensor", "dtype"),
    [
        (torch.tensor([[1, 2], [3, 4]]), "int64"),
        (torch.tensor([1.0, 2.0]), "float32"),
        (torch.tensor([True, False]), "bool"),
        (torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True), "float64"),
    ],
)
def test_facts_of_torch_tensor(tensor, dtype):
    facts = _facts(tensor)
    assert facts.kind == "torch.Tensor"
    assert facts.dtype == dtype
    assert facts.shape == tuple(tensor.shape)
    np.testing.assert_array_equal(facts.value, tensor.detach().numpy())


def test_facts_of_torch_parameter_is_a_tensor():
    facts = _facts(torch.nn.Parameter(torch.zeros(2, 3)))
    assert (facts.kind, facts.dtype, facts.shape) == ("torch.Tensor", "float32", (2, 3))


def test_facts_of_torch_bfloat16_values_as_float32():
    facts = _facts(torch.tensor([1.5, -0.25], dtype=torch.bfloat16))
    assert facts.dtype == "bfloat16"
    assert facts.value.dtype == np.float32
    np.testing.assert_array_equal(facts.value, [1.5, -0.25])


@pytest.mark.parametrize(
    ("value", "kind", "dtype"),
    [(3, "python int", "int64"), (2.5, "python float", "float64"), (True, "python bool", "bool")],
)
def test_facts_of_python_scalars(value, kind, dtype):
    facts = _facts(value)
    assert (facts.kind, facts.dtype, facts.shape) == (kind, dtype, ())
    assert facts.value.item() == value


def test_facts_of_prng_key():
    """A typed PRNG key is reported as jax.PRNGKey with its key data as values."""
    key = jax.random.key(7)
    facts = _facts(key)
    assert facts.kind == "jax.PRNGKey"
    assert facts.dtype.startswith("key<")
    assert facts.shape == ()
    np.testing.assert_array_equal(facts.value, np.asarray(jax.random.key_data(key)))


def test_facts_of_batch_of_prng_keys():
    keys = jax.random.split(jax.random.key(0), 3)
    facts = _facts(keys)
    assert facts.kind == "jax.PRNGKey"
    assert facts.shape == (3,)
    np.testing.assert_array_equal(facts.value, np.asarray(jax.random.key_data(keys)))


def test_facts_of_legacy_uint32_key_is_a_plain_array():
    facts = _facts(jax.random.PRNGKey(0))
    assert (facts.kind, facts.dtype, facts.shape) == ("jax.Array", "uint32", (2,))


@pytest.mark.parametrize("obj", ["text", None, [1, 2], (1.0,), {"a": 1}, object()])
def test_facts_of_non_arrays_is_none(obj):
    assert facts_of(obj) is None


def test_describe():
    facts = ArrayFacts(np.zeros((3, 4), np.int32), "jax.Array", "int32", (3, 4))
    assert facts.describe() == "jax.Array of dtype int32 and shape (3, 4)"


# --------------------------------------------------------------------------- compare_arrays


def test_equal_arrays_agree():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5)).astype(np.float32)
    assert _compare(jnp.asarray(x), torch.from_numpy(x)) is None


@pytest.mark.parametrize(
    ("got", "hint"),
    [
        (np.arange(3, dtype=np.int32), "numpy_not_jax"),
        (torch.arange(3, dtype=torch.int32), "torch_not_jax"),
        (np.int32(3), "python_scalar"),
        (3, "python_scalar"),
    ],
)
def test_kind_mismatch_hints(got, hint):
    mismatch = _compare(got, jnp.arange(3, dtype=jnp.int32))
    assert mismatch is not None
    assert mismatch.hints == [hint]
    assert any("should be a jax.Array" in line for line in mismatch.lines)


def test_jax_where_torch_expected_hint():
    mismatch = _compare(jnp.zeros(2), torch.zeros(2), kind="torch.Tensor")
    assert mismatch is not None
    assert mismatch.hints == ["jax_not_torch"]


def test_kind_none_skips_the_kind_check():
    assert _compare(np.arange(3, dtype=np.int32), jnp.arange(3), kind=None) is None


@pytest.mark.parametrize(("wide", "narrow"), [(np.int64, "int32"), (np.float64, "float32")])
def test_wide_dtype_hints_int64_default(wide, narrow):
    got = ArrayFacts(np.zeros(3, wide), "jax.Array", np.dtype(wide).name, (3,))
    mismatch = _compare_facts(got, jnp.zeros(3, dtype=narrow))
    assert mismatch is not None
    assert mismatch.hints == ["int64_default"]
    assert f"dtype differs: expected {narrow}, got {np.dtype(wide).name}." in mismatch.lines


def test_int64_vs_int32_via_dtype_argument():
    """torch says int64, the exercise asks int32: a jax int64 result gets the int64_default hint."""
    want = torch.tensor([[1, 2], [3, 4]])
    got = ArrayFacts(np.array([[1, 2], [3, 4]], np.int64), "jax.Array", "int64", (2, 2))
    mismatch = compare_arrays(got, _facts(want), dtype="int32")
    assert mismatch is not None
    assert mismatch.hints == ["int64_default"]
    # and the int32 answer passes against the int64 torch reference
    assert _compare(jnp.array([[1, 2], [3, 4]]), want, dtype="int32") is None


def test_other_dtype_mismatch_has_no_hint():
    mismatch = _compare(jnp.zeros(3, jnp.int16), jnp.zeros(3, jnp.int32))
    assert mismatch is not None
    assert mismatch.hints == []
    assert "dtype differs: expected int32, got int16." in mismatch.lines


def test_transposed_shape_hints_dim_vs_axis():
    mismatch = _compare(jnp.zeros((4, 3)), jnp.zeros((3, 4)))
    assert mismatch is not None
    assert mismatch.hints == ["dim_vs_axis"]
    assert "shape differs: expected (3, 4), got (4, 3)." in mismatch.lines


@pytest.mark.parametrize(("got_shape", "want_shape"), [((3,), (3, 1)), ((4,), (1, 4))])
def test_missing_keepdims_hints_keepdim(got_shape, want_shape):
    mismatch = _compare(jnp.zeros(got_shape), jnp.zeros(want_shape))
    assert mismatch is not None
    assert mismatch.hints == ["keepdim"]


def test_unrelated_shape_mismatch_has_no_hint():
    mismatch = _compare(jnp.zeros((3,)), jnp.zeros((4,)))
    assert mismatch is not None
    assert mismatch.hints == []
    assert "shape differs: expected (4,), got (3,)." in mismatch.lines


def test_keepdim_hint_only_when_shapes_correspond():
    mismatch = _compare(jnp.zeros((5,)), jnp.zeros((3, 1)))
    assert mismatch is not None
    assert "keepdim" not in mismatch.hints


def test_value_mismatch_reports_index_and_errors():
    want = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = want.copy()
    got[1, 2] += 0.5
    got[2, 3] -= 2.0
    mismatch = _compare(jnp.asarray(got), want, kind=None)
    assert mismatch is not None
    text = "\n".join(mismatch.lines)
    assert "values differ at 2 of 12 positions" in text
    assert "first at index (1, 2)" in text
    assert "max abs error 2," in text
    assert "rtol=1e-05, atol=1e-06" in text
    assert mismatch.hints == []


def test_values_within_tolerance_agree():
    want = np.linspace(1, 2, 7)
    assert _compare(want * (1 + 1e-7), want, kind=None) is None
    assert _compare(want + 0.01, want, kind=None) is not None
    assert _compare(want + 0.01, want, kind=None, atol=0.02) is None


def test_zero_dim_mismatch_index():
    mismatch = _compare(np.array(1.0), np.array(2.5), kind=None)
    assert mismatch is not None
    text = "\n".join(mismatch.lines)
    assert "first at index ()" in text
    assert "max abs error 1.5" in text


def test_nan_in_same_place_agrees():
    x = np.array([1.0, np.nan, 3.0])
    assert _compare(x.copy(), x, kind=None) is None


def test_nan_where_number_expected_is_a_mismatch():
    mismatch = _compare(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, 3.0]), kind=None)
    assert mismatch is not None
    text = "\n".join(mismatch.lines)
    assert "values differ at 1 of 3 positions" in text
    assert "first at index (1,)" in text
    assert "nan" in text


def test_matching_nans_do_not_poison_the_error_statistics():
    mismatch = _compare(np.array([np.nan, 1.0]), np.array([np.nan, 2.0]), kind=None)
    assert mismatch is not None
    text = "\n".join(mismatch.lines)
    assert "max abs error 1," in text
    assert "max rel error 0.5" in text


def test_matching_infinities_compare_cleanly():
    mismatch = _compare(np.array([np.inf, 1.0]), np.array([np.inf, 2.0]), kind=None)
    assert mismatch is not None
    assert "max abs error 1," in "\n".join(mismatch.lines)


def test_large_error_against_zero_has_no_warning():
    mismatch = _compare(np.array([1e10, 1.0]), np.array([0.0, 1.0]), kind=None)
    assert mismatch is not None
    assert "max abs error 1e+10" in "\n".join(mismatch.lines)


def test_integers_compare_exactly():
    """Integers are compared exactly, whatever rtol says."""
    want = np.array([1_000_000, 5], np.int64)
    got = np.array([1_000_001, 5], np.int64)
    mismatch = _compare(got, want, kind=None, rtol=1e-3)
    assert mismatch is not None
    text = "\n".join(mismatch.lines)
    assert "first at index (0,)" in text
    assert "max abs error 1," in text
    assert _compare(want.copy(), want, kind=None) is None


def test_unsigned_integers_do_not_wrap():
    mismatch = _compare(np.array([3], np.uint8), np.array([5], np.uint8), kind=None)
    assert mismatch is not None
    assert "max abs error 2," in "\n".join(mismatch.lines)


def test_bool_arrays_compare_exactly():
    assert _compare(np.array([True, False]), np.array([True, False]), kind=None) is None
    mismatch = _compare(np.array([True, False]), np.array([True, True]), kind=None)
    assert mismatch is not None
    assert "first at index (1,)" in "\n".join(mismatch.lines)


def test_complex_values():
    want = np.array([1 + 2j, 3 - 1j], np.complex64)
    assert _compare(want.copy(), want, kind=None) is None
    mismatch = _compare(want + np.complex64(1j), want, kind=None)
    assert mismatch is not None
    assert "max abs error 1," in "\n".join(mismatch.lines)


def test_empty_arrays_agree():
    assert _compare(jnp.zeros((0, 3)), np.zeros((0, 3), np.float32)) is None


def test_render_deduplicates_hints():
    mismatch = Mismatch(["expected: x", "got: y"], ["keepdim", "dim_vs_axis", "keepdim"])
    text = mismatch.render("The sum")
    assert text.startswith("The sum is not what was expected.\n  expected: x\n  got: y\n")
    assert text.count(hint_text("keepdim")) == 1
    assert hint_text("dim_vs_axis") in text
    plain = mismatch.render("The sum", with_hints=False)
    assert "Likely PyTorch" not in plain


# --------------------------------------------------------------------------- check_array / check


def test_check_array_success_prints_tick(capsys):
    check_array(jnp.array([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]]), dtype="int32")
    out = capsys.readouterr().out
    assert out == "✔ The result: jax.Array of dtype int32 and shape (2, 2) matches.\n"


def test_check_array_failure_raises_rendered_text(capsys):
    got = np.array([1.0, 2.0], np.float32)
    want = torch.tensor([1.0, 2.0])
    expected = compare_arrays(_facts(got), _facts(want)).render("my_fn(x)")
    with pytest.raises(AssertionError) as info:
        check_array(got, want, what="my_fn(x)")
    assert str(info.value) == expected
    assert hint_text("numpy_not_jax") in str(info.value)
    assert "✔" not in capsys.readouterr().out


def test_check_array_lazy_hints_are_gathered_only_on_a_mismatch(capsys):
    calls = []

    def evidence():
        calls.append(1)
        return ["same_padding_stride2"]

    check_array(jnp.arange(3.0), torch.arange(3.0), hints=evidence)
    assert calls == [] and capsys.readouterr().out.count("✔") == 1
    with pytest.raises(AssertionError) as info:
        check_array(jnp.arange(3.0) + 1, torch.arange(3.0), hints=evidence)
    assert calls == [1] and hint_text("same_padding_stride2") in str(info.value)
    assert "✔" not in capsys.readouterr().out  # the first, hint-less comparison printed nothing


def test_check_array_value_failure_mentions_index():
    with pytest.raises(AssertionError, match=r"first at index \(2,\)"):
        check_array(jnp.array([1.0, 2.0, 9.0]), torch.tensor([1.0, 2.0, 3.0]))


def test_check_array_non_array_result():
    with pytest.raises(AssertionError, match=r"should be jax\.Array, but it is a builtins\.list"):
        check_array([1, 2], torch.tensor([1, 2]))


def test_check_array_non_array_expected_is_a_type_error():
    with pytest.raises(TypeError, match="expected value is not an array"):
        check_array(jnp.zeros(2), [0.0, 0.0])


def test_check_passes_and_prints(capsys):
    check(np.bool_(True), "keys differ")
    assert capsys.readouterr().out == "✔ keys differ\n"


def test_check_fails_with_message_and_hint():
    with pytest.raises(AssertionError) as info:
        check(False, "the two samples should differ")
    assert str(info.value) == "Not so: the two samples should differ"
    with pytest.raises(AssertionError) as info:
        check(0, "the two samples should differ", hint="reused_key")
    assert str(info.value) == "Not so: the two samples should differ\n" + hint_text("reused_key")
    with pytest.raises(AssertionError) as info:
        check(0, "the two samples should differ", hint="reused_key", otherwise="both samples are equal")
    assert str(info.value) == "both samples are equal\n" + hint_text("reused_key")


# --------------------------------------------------------------------------- check_environment


def _fake_dist(site: Path, name: str, version: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _fake_dist(site, "pt2jax-fake-alpha", "1.2.3")
    _fake_dist(site, "pt2jax-fake-beta", "4.5.6")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_check_environment_all_match(fake_site, tmp_path, capsys):
    req = tmp_path / "requirements.txt"
    req.write_text(
        "# pinned\n\npt2jax-fake-alpha==1.2.3\npt2jax_fake_beta[extra] == 4.5.6  # comment\n"
        "some-unpinned-thing>=1.0\n"
    )
    assert check_environment(req) == {}
    assert capsys.readouterr().out == "✔ All 2 pinned packages match the course's versions.\n"


def test_check_environment_mismatch_and_missing(fake_site, tmp_path, capsys):
    req = tmp_path / "requirements.txt"
    req.write_text("pt2jax-fake-alpha==1.2.4\npt2jax-fake-beta==4.5.6\npt2jax-fake-absent==0.1\n")
    diffs = check_environment(str(req))
    assert diffs == {
        "pt2jax-fake-alpha": ("1.2.4", "1.2.3"),
        "pt2jax-fake-absent": ("0.1", "not installed"),
    }
    out = capsys.readouterr().out
    assert "pt2jax-fake-alpha: course uses 1.2.4, you have 1.2.3" in out
    assert "pt2jax-fake-absent: course uses 0.1, you have not installed" in out
    assert f"pip install -r {req}" in out
    assert "pt2jax-fake-beta" not in out


def test_check_environment_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope" / "requirements.txt"
    assert check_environment(missing) == {}
    out = capsys.readouterr().out
    assert out.startswith("⚠")
    assert str(missing) in out


def test_check_environment_default_path_is_cwd(fake_site, tmp_path, monkeypatch):
    (tmp_path / "requirements.txt").write_text("pt2jax-fake-alpha==9.9.9\n")
    monkeypatch.chdir(tmp_path)
    assert check_environment() == {"pt2jax-fake-alpha": ("9.9.9", "1.2.3")}


def test_check_environment_accepts_local_version_label(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _fake_dist(site, "pt2jax-fake-gamma", "2.14.1+cpu")
    monkeypatch.syspath_prepend(str(site))
    req = tmp_path / "requirements.txt"
    req.write_text("pt2jax-fake-gamma==2.14.1\n")
    assert check_environment(req) == {}


# --------------------------------------------------------------------------- misconceptions


@pytest.mark.parametrize("hint_id", sorted(MISCONCEPTIONS))
def test_every_misconception_renders(hint_id):
    title, text = MISCONCEPTIONS[hint_id]
    assert title.strip() and text.strip()
    rendered = hint_text(hint_id)
    assert rendered == f"Likely PyTorch → JAX slip: {title}. {text}"
    assert "\n" not in rendered


def test_unknown_hint_raises_key_error():
    with pytest.raises(KeyError):
        hint_text("no_such_misconception")


def test_hints_named_in_the_authoring_guide_exist():
    text = (REPO / "docs" / "authoring.md").read_text()
    section = text.split("Hints name an entry", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r'`"?([a-z0-9_]+)"?`', section.split(". `expect_array`")[0]))
    assert named == set(MISCONCEPTIONS)  # the guide lists every hint, and only real ones


def test_hints_produced_by_comparisons_exist():
    ids = {"int64_default", "dim_vs_axis", "keepdim"}
    for got_kind in ("numpy.ndarray", "torch.Tensor", "python int", "numpy.generic", "jax.Array"):
        for want_kind in ("jax.Array", "torch.Tensor", "python float"):
            ids.update(studentkit._kind_hints(got_kind, want_kind))
    assert ids <= set(MISCONCEPTIONS)


def test_studentkit_is_standalone():
    """Shipped as pt2jax_check.py: stdlib and numpy only at module level, nothing of pt2jax."""
    tree = ast.parse(Path(studentkit.__file__).read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in studentkit"
            top.add((node.module or "").split(".")[0])
    assert "pt2jax" not in top
    assert top - {"numpy"} <= set(sys.stdlib_module_names), f"not stdlib: {top - set(sys.stdlib_module_names)}"


# --------------------------------------------------------------------------- autodiff hints (02_autodiff)


def _raised(fn):
    """(bare class name, message) of the exception ``fn`` raises, as the probe reports them."""
    try:
        fn()
    except Exception as exc:
        return type(exc).__name__, str(exc)
    raise AssertionError("nothing was raised")


def _logs_item(w):
    loss = jnp.sum(w**2)
    print(loss.item())
    return loss


def _branches(w):
    return w if w.sum() > 0 else -w


# Each RAISED_HINTS row added for 02_autodiff, triggered by the real library (jax 0.10.2, torch 2.14.1).
AUTODIFF_RAISES = {
    "backward on an array": (lambda: jnp.ones(2).backward(), "backward_mutation"),
    "grad of an array": (lambda: jnp.ones(2).grad, "backward_mutation"),
    "requires_grad_ on an array": (lambda: jnp.ones(2).requires_grad_(), "backward_mutation"),
    "backward on a tracer": (lambda: jax.grad(lambda w: w.backward())(1.0), "backward_mutation"),
    "detach on an array": (lambda: jnp.ones(2).detach(), "stop_gradient"),
    "detach on a tracer": (lambda: jax.grad(lambda w: w.detach())(1.0), "stop_gradient"),
    "grad of a vector": (lambda: jax.grad(lambda w: w * 2.0)(jnp.ones(3)), "grad_scalar_output"),
    "grad of (loss, aux) without has_aux": (
        lambda: jax.grad(lambda w: (jnp.sum(w), w))(jnp.ones(3)), "grad_scalar_output"),
    "grad at int32 inputs": (lambda: jax.grad(lambda x: jnp.sum(x * 1.5))(jnp.arange(3)), "int_grad"),
    "grad at a Python int": (lambda: jax.grad(lambda x: x * 1.5)(3), "int_grad"),
    "vmap without in_axes": (
        lambda: jax.vmap(lambda w, x: x @ w)(jnp.ones((3, 2)), jnp.ones((5, 3))), "vmap_in_axes"),
    ".item() under jit": (lambda: jax.jit(_logs_item)(jnp.ones(2)), "host_in_traced"),
    ".item() under vmap": (lambda: jax.vmap(_logs_item)(jnp.ones((2, 3))), "host_in_traced"),
    "float() under grad": (lambda: jax.grad(lambda w: float(w) * w)(1.0), "host_in_traced"),
    "NumPy under jit": (lambda: jax.jit(lambda w: np.square(w))(jnp.ones(2)), "host_in_traced"),
    "NumPy under grad": (lambda: jax.grad(lambda w: jnp.sum(np.asarray(w)))(jnp.ones(2)), "host_in_traced"),
    "Python if under jit": (lambda: jax.jit(_branches)(jnp.ones(2)), "host_in_traced"),
    "traced index under jit": (lambda: jax.jit(lambda i: [1.0, 2.0][i])(jnp.int32(1)), "host_in_traced"),
    "torch.from_dlpack under jit": (lambda: jax.jit(lambda w: torch.from_dlpack(w))(jnp.ones(2)), "host_in_traced"),
    "torch.tensor under grad": (lambda: jax.grad(lambda w: torch.tensor(w))(1.0), "host_in_traced"),
}


@pytest.mark.parametrize("case", sorted(AUTODIFF_RAISES))
def test_autodiff_exceptions_give_their_hint(case):
    make, hint_id = AUTODIFF_RAISES[case]
    exc_type, message = _raised(make)
    assert hint_id in studentkit.hints_for_exception(exc_type, message), (exc_type, message[:300])


@pytest.mark.parametrize(
    ("exc_type", "message"),
    [
        ("AttributeError", "'jaxlib._jax.ArrayImpl' object has no attribute 'gradient'"),
        ("AttributeError", "'dict' object has no attribute 'graduate'"),
        ("TypeError", "unsupported operand type(s) for +: 'int' and 'str'"),
        ("ValueError", "operands could not be broadcast together with shapes (3,) (4,)"),
    ],
)
def test_autodiff_hints_do_not_fire_on_unrelated_errors(exc_type, message):
    new = {"backward_mutation", "stop_gradient", "grad_scalar_output", "int_grad", "vmap_in_axes",
           "host_in_traced"}
    assert not new & set(studentkit.hints_for_exception(exc_type, message))


def test_detach_keeps_the_torch_methods_hint_too():
    exc_type, message = _raised(lambda: jnp.ones(2).detach())
    assert studentkit.hints_for_exception(exc_type, message) == ["torch_methods", "stop_gradient"]


def test_item_under_grad_is_silent_in_this_jax():
    """Why 02_autodiff checks losses under jax.jit: .item() under plain jax.grad raises nothing in
    jax 0.10.2, and the gradient through it is zero."""
    assert float(jax.grad(lambda w: w.sum().item())(jnp.ones(3)).sum()) == 0.0


def test_int_kernel_size_is_named_where_the_weights_do_not_fit() -> None:
    """03 ex02: an int kernel_size in nnx.Conv is a 1-D convolution; the locked loader's message names it."""
    from flax import nnx

    assert nnx.Conv(4, 6, 3, rngs=nnx.Rngs(0)).kernel[...].shape == (3, 4, 6)  # what the text claims
    import re as _re

    md = (Path(__file__).parents[1] / "source" / "03_resnet" / "03_resnet.md").read_text()
    message = _re.search(r'why = \(" (nnx\.Conv\'s kernel_size must be a tuple[^"]*)"', md)
    assert message, "the locked load_flat lost its kernel-rank message"
    assert "conv_kernel_int" in studentkit.hints_for_exception("ValueError", message.group(1))


def test_self_check_failures_render_as_their_message_alone() -> None:
    from pt2jax.kit.check import FULL_TRACEBACK_NOTE, SelfCheckFailed

    with pytest.raises(SelfCheckFailed) as info:
        check(False, "the two draws differ", hint="reused_key", otherwise="The two draws are identical.")
    lines = info.value._render_traceback_()
    assert lines[0] == "✘ The two draws are identical."
    assert studentkit.hint_text("reused_key") in lines and lines[-1] == FULL_TRACEBACK_NOTE


def test_extra_hints_mark_any_failure_in_the_block() -> None:
    with pytest.raises(ValueError) as info, studentkit.extra_hints("torch_max_tuple"):
        _a, _b = (1, 2, 3)
    assert studentkit._hints_of(info.value) == ["torch_max_tuple"]


def test_explain_errors_shortens_tracebacks_but_errors_stay_errors(tmp_path: Path) -> None:
    """In a real kernel: the cell still fails (Validate and the grader see an error), its traceback shows
    the student's own frames, the message and the hint, and full_traceback() prints the rest."""
    import nbformat
    from nbclient import NotebookClient

    kit = Path(studentkit.__file__)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"import sys; sys.path.insert(0, {str(kit.parent)!r})\n"
                                  "from check import explain_errors, full_traceback\nexplain_errors()"),
        nbformat.v4.new_code_cell("import jax.numpy as jnp\ndef f(x):\n    return jnp.sum(x, dim=0)\nf(jnp.ones(3))"),
        nbformat.v4.new_code_cell("full_traceback()"),
    ]
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute(cwd=str(tmp_path))
    (error,) = nb.cells[1].outputs
    assert error.output_type == "error" and error.ename == "TypeError"
    shown = "\n".join(error.traceback)
    assert "return jnp.sum(x, dim=0)" in shown and studentkit.hint_text("dim_vs_axis") in shown
    assert "site-packages" not in shown and "\x1b[" not in shown
    full = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert "Traceback (most recent call last)" in full and "site-packages" in full
