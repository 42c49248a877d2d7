"""Hidden checks for Part 2 of 03_resnet: layouts, conv + BatchNorm, BasicBlock (exercises 1 to 3)."""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pt2jax.checks import StudentArray, as_jax, expect, expect_array, extra_hints, fail, graded, load_helper

ref = load_helper(Path(__file__).with_name("_reference.py"))


# Exercise 1 -------------------------------------------------------------------------------------

def _distinct_sizes(rng, k, low=2, high=9):
    """k different sizes: a transposed or reshaped result then shows in the shape or the values."""
    return [int(n) for n in rng.choice(np.arange(low, high), size=k, replace=False)]


@graded("ex01_layouts_check", points=1)
def test_to_nhwc(student, rng):
    """to_nhwc turns an (N, C, H, W) batch into (N, H, W, C), as x.permute(0, 2, 3, 1)."""
    shape = _distinct_sizes(rng, 4)
    x = rng.normal(size=shape).astype(np.float32)
    got = student.call("to_nhwc", as_jax(x))
    expect_array(got, torch.from_numpy(x).permute(0, 2, 3, 1), what=f"to_nhwc(x) for x of shape {tuple(shape)}",
                 hints=("nchw_nhwc",))


@graded("ex01_layouts_check", points=1)
def test_kernel_to_hwio(student, rng):
    """kernel_to_hwio turns a torch (O, I, kH, kW) kernel into Flax's (kH, kW, I, O)."""
    o, i = _distinct_sizes(rng, 2, 6, 14)
    kh, kw = 3, 5                                          # not square: a swapped height and width shows
    w = rng.normal(size=(o, i, kh, kw)).astype(np.float32)
    got = student.call("kernel_to_hwio", as_jax(w))
    expect_array(got, torch.from_numpy(w).permute(2, 3, 1, 0), what=f"kernel_to_hwio(w) for w of shape {w.shape}",
                 hints=("oihw_hwio",))


@graded("ex01_layouts_check", points=1)
def test_linear_to_flax(student, rng):
    """linear_to_flax turns a torch (out, in) weight into Flax's (in, out) kernel."""
    o, i = _distinct_sizes(rng, 2, 2, 20)
    w = rng.normal(size=(o, i)).astype(np.float32)
    got = student.call("linear_to_flax", as_jax(w))
    expect_array(got, torch.from_numpy(w).T, what=f"linear_to_flax(w) for w of shape {w.shape}")


# Exercise 2 -------------------------------------------------------------------------------------

def _conv_bn_case(rng, stride, kernel_size=3):
    cin, cout = int(rng.integers(2, 7)), int(rng.integers(3, 9))
    size = 2 * int(rng.integers(3, 6))                   # even: where SAME and padding=1 differ at stride 2
    x = rng.normal(size=(int(rng.integers(2, 4)), cin, size, size)).astype(np.float32)
    w = (rng.normal(size=(cout, cin, kernel_size, kernel_size)) / np.sqrt(cin * kernel_size**2)).astype(np.float32)
    scale = rng.uniform(0.5, 1.5, cout).astype(np.float32)
    bias = rng.normal(scale=0.2, size=cout).astype(np.float32)
    mean = rng.normal(scale=0.2, size=cout).astype(np.float32)
    var = rng.uniform(1e-4, 1e-2, cout).astype(np.float32)  # small: a wrong epsilon shows
    params = {"layers/0/kernel": w.transpose(2, 3, 1, 0), "layers/1/scale": scale, "layers/1/bias": bias,
              "layers/1/mean": mean, "layers/1/var": var}
    return x, w, (scale, bias, mean, var), params


def _call_conv_bn(student, x, params, k, stride):
    got = student.call("graded_conv_bn", ref.nhwc(torch.from_numpy(x)), params, k, stride)
    got = ref.unwrap_dict(got, ("eval", "train", "mean", "var", "missing"), "graded_conv_bn")
    if got["missing"]:
        fail(f"conv_bn(...) has no variable at {got['missing']}: keep nnx.Sequential(nnx.Conv(...),"
             " nnx.BatchNorm(...)), the convolution first.")
    return got


def _torch_conv_bn(x, w, bn, stride, train):
    mean, var = (torch.from_numpy(a.copy()) for a in bn[2:])
    y = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=stride, padding=w.shape[-1] // 2)
    out = F.batch_norm(y, mean, var, torch.from_numpy(bn[0]), torch.from_numpy(bn[1]), train, 0.1, 1e-5)
    return out, mean, var, y


def _eval_case(student, rng, stride):
    x, w, bn, params = _conv_bn_case(rng, stride)
    got = _call_conv_bn(student, x, params, 3, stride)
    want, *_ = _torch_conv_bn(x, w, bn, stride, False)
    what = f"conv_bn({w.shape[1]}, {w.shape[0]}, 3, {stride}) in eval mode on images of {x.shape[2]}x{x.shape[3]}"
    out, hint = got["eval"], None
    if isinstance(out, StudentArray) and out.shape == ref.nhwc(want).shape and not ref.close(out, ref.nhwc(want)):
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        stats = [torch.from_numpy(a.copy()) for a in (bn[2], bn[3], bn[0], bn[1])]
        same = F.batch_norm(F.conv2d(F.pad(tx, (0, 1, 0, 1)), tw, stride=stride), *stats, False, 0.1, 1e-5)
        if stride == 2 and ref.close(out, ref.nhwc(same)):
            hint = "same_padding_stride2"
        for eps in (1e-3, 1e-6, 1e-4, 0.0):
            alt = F.batch_norm(F.conv2d(tx, tw, stride=stride, padding=1), *stats, False, 0.1, eps)
            if ref.close(out, ref.nhwc(alt)):
                hint = "bn_epsilon"
    with extra_hints(*([hint] if hint else [])):
        expect_array(out, ref.nhwc(want), rtol=1e-4, atol=1e-4, what=what)


@graded("ex02_conv_bn_check", points=1)
def test_conv_bn_stride1(student, rng):
    """A stride-1 conv_bn in eval mode computes torch's Conv2d(padding=1, bias=False) + BatchNorm2d(eps=1e-5)."""
    _eval_case(student, rng, 1)


@graded("ex02_conv_bn_check", points=2)
def test_conv_bn_stride2(student, rng):
    """A stride-2 conv_bn on an even-sized image pads like torch's padding=1, not like 'SAME'."""
    _eval_case(student, rng, 2)


def _train_case(student, rng):
    x, w, bn, params = _conv_bn_case(rng, 1)
    got = _call_conv_bn(student, x, params, 3, 1)
    want, mean, var, y = _torch_conv_bn(x, w, bn, 1, True)         # mean, var: torch's updated running stats
    n = y.shape[0] * y.shape[2] * y.shape[3]
    old = torch.from_numpy(bn[3])
    flax_var = 0.9 * old + (var - 0.9 * old) * (n - 1) / n           # torch's unbiased update, made biased
    return got, want, mean, flax_var, w.shape


@graded("ex02_conv_bn_check", points=1)
def test_conv_bn_train_mean(student, rng):
    """After one train-mode call the output uses batch statistics and the running mean moved as torch's
    (momentum 0.1 in torch = 0.9 in Flax)."""
    got, want, mean, _, shape = _train_case(student, rng)
    what = f"conv_bn({shape[1]}, {shape[0]}, 3, 1)"
    expect_array(got["train"], ref.nhwc(want), rtol=1e-4, atol=1e-4, what=f"the train-mode output of {what}",
                 hints=("batchnorm_train_mode",))
    expect_array(got["mean"], mean, rtol=1e-5, atol=1e-5, what=f"the running mean of {what} after one train-mode call",
                 hints=("bn_momentum",))


@graded("ex02_conv_bn_check", points=1)
def test_conv_bn_train_var(student, rng):
    """After one train-mode call the running variance moved as torch's, up to torch's unbiased variance."""
    got, _, _, flax_var, shape = _train_case(student, rng)
    expect_array(got["var"], flax_var, rtol=1e-5, atol=1e-5,
                 what=f"the running variance of conv_bn({shape[1]}, {shape[0]}, 3, 1) after one train-mode call",
                 hints=("bn_momentum",))


# Exercise 3 -------------------------------------------------------------------------------------

def _block_case(student, rng, down):
    cin = int(rng.integers(3, 9))
    cout = 2 * cin if down else cin
    size = 2 * int(rng.integers(2, 5))
    x = rng.normal(size=(int(rng.integers(2, 4)), size, size, cin)).astype(np.float32)
    p = ref.block_params(rng, cin, cout, down)
    got = student.call("graded_block", x, ref.flax_block_params(p), cin, cout, down)
    got = ref.unwrap_dict(got, ("out", "missing", "shapes"), "graded_block")
    return x, p, got, cin, cout


def _expected_shapes(cin, cout, down):
    p = ref.block_params(np.random.default_rng(0), cin, cout, down)
    return {k: list(v.shape) for k, v in ref.flax_block_params(p).items()}


@graded("ex03_block_check", points=1)
def test_block_structure(student, rng):
    """A BasicBlock has conv1_bn1, conv2_bn2 and, when downsampling, conv3_bn3, with torch's shapes."""
    cin = int(rng.integers(3, 9))
    for down in (False, True):
        cout = 2 * cin if down else cin
        got = student.call("graded_block", np.zeros((1, 4, 4, cin), np.float32),
                           ref.flax_block_params(ref.block_params(rng, cin, cout, down)), cin, cout, down)
        got = ref.unwrap_dict(got, ("out", "missing", "shapes"), "graded_block")
        want = _expected_shapes(cin, cout, down)
        what = f"BasicBlock({cin}, {cout}, do_downsample={down})"
        if got["missing"]:
            hint = "missing_shortcut" if any("conv3" in m for m in got["missing"]) else None
            fail(f"{what} has no variable at {got['missing']}; expected attributes conv1_bn1, conv2_bn2"
                 + (", conv3_bn3" if down else "") + ", each conv_bn(...).", hint)
        shapes = got["shapes"] if isinstance(got["shapes"], dict) else {}
        for path, shape in want.items():
            expect(shapes.get(path) == shape, f"{what}: {path} has shape {shapes.get(path)}, expected {shape}.")
        extra = sorted(set(shapes) - set(want))
        expect(not extra, f"{what} has variables torch's block does not have: {extra[:4]}"
               " (a conv_bn with a bias? a projection where the shape does not change?).")


def _block_output(student, rng, down):
    x, p, got, cin, cout = _block_case(student, rng, down)
    if got["missing"]:
        fail(f"BasicBlock({cin}, {cout}, do_downsample={down}) has no variable at {got['missing']}.",
             "missing_shortcut" if down else None)
    with torch.no_grad():
        want = ref.nhwc(ref.torch_block(ref.nchw(x), p, "", down))
    slip = ref.likely_slip(got["out"], x, p, "", down)
    hints = [slip] if slip and slip != "no_projection_bn" else []
    if slip == "no_projection_bn":
        hints = ["missing_shortcut"]
    with extra_hints(*hints):
        expect_array(got["out"], want, rtol=1e-4, atol=1e-4,
                     what=f"BasicBlock({cin}, {cout}, do_downsample={down}) in eval mode on {x.shape}")


@graded("ex03_block_check", points=2)
def test_identity_block(student, rng):
    """A block without downsampling computes relu(bn2(conv2(relu(bn1(conv1(x))))) + x), as torch's."""
    _block_output(student, rng, False)


@graded("ex03_block_check", points=2)
def test_downsampling_block(student, rng):
    """A downsampling block (stride 2, 1x1 conv + BatchNorm projection) computes torch's."""
    _block_output(student, rng, True)
