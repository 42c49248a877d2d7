"""Hidden checks for Parts 3 and 4 of 03_resnet: ResNet18, the weight port, train/eval, save/load
(exercises 4 to 7)."""

from pathlib import Path

import numpy as np
import torch

from pt2jax.checks import (
    CheckFailed,
    StudentArray,
    StudentRaised,
    as_jax,
    call_fresh,
    expect,
    expect_array,
    extra_hints,
    fail,
    graded,
    load_helper,
    show,
)

ref = load_helper(Path(__file__).with_name("_reference.py"))
_SHAPES = {k: list(v.shape) for k, v in ref.expected_state(ref.TorchResNet18(10)).items()}


def _images(rng, n=None, size=16):
    n = int(rng.integers(2, 4)) if n is None else n
    return rng.normal(size=(n, size, size, 3)).astype(np.float32)


# Exercise 4 -------------------------------------------------------------------------------------

def _resnet(student, rng, num_classes=10, x=None):
    x = _images(rng) if x is None else x
    got = ref.unwrap_dict(student.call("graded_resnet", num_classes, x), ("shapes", "logits"), "graded_resnet")
    shapes = got["shapes"] if isinstance(got["shapes"], dict) else {}
    return shapes, got["logits"], x


def _count(shapes, kind):
    return sum(int(np.prod(s[1])) for s in shapes.values()
               if isinstance(s, list) and len(s) == 2 and s[0] == kind and isinstance(s[1], list))


@graded("ex04_resnet_check", points=1)
def test_param_count(student, rng):
    """ResNet18(10) has as many nnx.Param numbers as torch's model has parameters (11,173,962)."""
    shapes, _, _ = _resnet(student, rng)
    want = sum(p.numel() for p in ref.TorchResNet18(10).parameters())
    got = _count(shapes, "Param")
    expect(got == want, f"Your ResNet18(10) has {got:,} parameters (nnx.Param); torch's has {want:,}."
           + (" More: a convolution with a bias (use_bias=False)?" if got > want else ""))


@graded("ex04_resnet_check", points=1)
def test_batch_stat_count(student, rng):
    """ResNet18(10) holds as many BatchNorm statistics (nnx.BatchStat) as torch's running_mean/var buffers."""
    shapes, _, _ = _resnet(student, rng)
    want = sum(b.numel() for k, b in ref.TorchResNet18(10).named_buffers() if "running" in k)
    got = _count(shapes, "BatchStat")
    expect(got == want, f"Your ResNet18(10) holds {got:,} BatchNorm statistics (nnx.BatchStat); torch's"
           f" running_mean and running_var hold {want:,}.")


@graded("ex04_resnet_check", points=2)
def test_layer_shapes(student, rng):
    """Every variable of the fixed interface (conv1_bn1, layer1-4 blocks, fc) has torch's shape, in Flax layout."""
    shapes, _, _ = _resnet(student, rng)
    missing = [p for p in _SHAPES if p not in shapes]
    if missing:
        fail(f"Your ResNet18 has no variable at {missing[:3]}{' ...' if len(missing) > 3 else ''}"
             f" ({len(missing)} missing). Expected attributes conv1_bn1, layer1..layer4 (nnx.Sequential of two"
             " BasicBlocks), fc; see Exercise 4.", "missing_shortcut" if any("conv3" in m for m in missing) else None)
    for path, want in _SHAPES.items():
        got = shapes[path][1] if isinstance(shapes[path], list) and len(shapes[path]) == 2 else None
        hint = "oihw_hwio" if got is not None and len(want) == 4 and sorted(got) == sorted(want) else None
        expect(got == want, f"{path} has shape {got}; torch's counterpart gives {want} in Flax's layout.", hint)


@graded("ex04_resnet_check", points=1)
def test_output_shape(student, rng):
    """ResNet18(num_classes) maps channels-last images (N, H, W, 3) to float32 logits (N, num_classes)."""
    num_classes = int(rng.integers(3, 20))
    size = int(rng.choice([16, 32]))
    x = _images(rng, int(rng.integers(1, 4)), size)
    _, logits, _ = _resnet(student, rng, num_classes, x)
    with extra_hints("nchw_nhwc"):
        expect_array(logits, np.zeros((x.shape[0], num_classes), np.float32), rtol=0, atol=1e30,
                     what=f"ResNet18({num_classes})(x) for x of shape {x.shape}")


# Exercise 5 -------------------------------------------------------------------------------------

def _port(student, rng):
    seed = int(rng.integers(2**31))
    x = _images(rng)
    got = ref.unwrap_dict(student.call("graded_port", seed, x), ("torch_prints", "state", "stages"), "graded_port")
    model = ref.randomized_torch_model(seed)
    mine = {k: ref.fingerprint(v.numpy()) for k, v in model.state_dict().items()}
    theirs = got["torch_prints"] if isinstance(got["torch_prints"], dict) else {}
    if any(not ref.same_print(theirs.get(k), v) for k, v in mine.items()):
        fail("randomized_torch_model(seed) in your kernel does not hold the weights the grader expects: was"
             " TorchResNet18, randomize_ or randomized_torch_model redefined in one of your cells?")
    state = got["state"] if isinstance(got["state"], dict) else {}
    return model, x, state, got["stages"]


def _check_prints(state, model, which):
    """Compare the ported variables (``which``: 'weights' or 'batchnorm') with torch's, by fingerprint."""
    want = ref.expected_state(model)
    for path, arr in want.items():
        is_kernel = path.endswith("kernel")
        if (which == "weights") != is_kernel:
            continue
        entry = state.get(path)
        if not (isinstance(entry, list) and len(entry) == 3):
            fail(f"Your ported model has no variable at {path}.")
        _, shape, print_ = entry
        name = ref.torch_name(path)
        if shape != list(arr.shape):
            fail(f"{path} has shape {shape}, but torch's {name} converted to Flax's layout has {list(arr.shape)}.",
                 "oihw_hwio" if is_kernel else None)
        if ref.same_print(print_, ref.fingerprint(arr)):
            continue
        default = np.ones_like(arr) if path.endswith(("/scale", "/var")) else np.zeros_like(arr)
        if not is_kernel and ref.same_print(print_, ref.fingerprint(default)):
            fail(f"{path} still holds its initial value: torch's {name} was not copied. Every BatchNorm has"
                 " four tensors to copy: weight, bias, running_mean and running_var.",
                 "state_dict_vs_nnx_state" if ref.is_stat(path) else None)
        t = model.state_dict()[name].detach().numpy()
        if isinstance(print_, list) and len(print_) == 2 and np.isclose(print_[0], float(t.astype(np.float64).sum()),
                                                                        rtol=1e-6, atol=1e-4):
            fail(f"{path} holds the numbers of torch's {name} in the wrong order (the sums agree, the layout"
                 " does not): transpose, do not reshape.", "oihw_hwio")
        fail(f"{path} does not hold the numbers of torch's {name}.")


@graded("ex05_port_check", points=2)
def test_port_kernels(student, rng):
    """Every convolution kernel and the linear layer's kernel hold torch's weights, in Flax's layout."""
    model, _, state, _ = _port(student, rng)
    _check_prints(state, model, "weights")
    expect(ref.same_print(state.get("fc/bias", [None] * 3)[2], ref.fingerprint(model.fc.bias.detach().numpy())),
           "fc/bias does not hold torch's fc.bias.")


@graded("ex05_port_check", points=2)
def test_port_batchnorm(student, rng):
    """Every BatchNorm's scale, bias, mean and var hold torch's weight, bias, running_mean, running_var."""
    model, _, state, _ = _port(student, rng)
    _check_prints(state, model, "batchnorm")


def _torch_stages(model, x):
    """torch's activations after the stem and after every block, and the logits (NCHW tensors)."""
    out = {}
    with torch.no_grad():
        h = model.maxpool(torch.relu(model.bn1(model.conv1(ref.nchw(x)))))
        out["stem"] = h
        for i in range(1, 5):
            for j, block in enumerate(getattr(model, f"layer{i}")):
                h = block(h)
                out[f"layer{i}.{j}"] = h
        out["logits"] = model(ref.nchw(x))
    return out


_CAUSES = {
    "relu_before_add": "a ReLU applied before the shortcut is added",
    "missing_shortcut": "a missing shortcut (nothing added)",
    "same_padding_stride2": "padding='SAME' on the stride-2 convolution",
    "batchnorm_train_mode": "BatchNorm using batch statistics in eval mode",
    "no_projection_bn": "a projection shortcut without its BatchNorm",
}


def _first_divergence(stages, want, x, sd):
    """(text, hint) naming the first stage or block whose eval-mode activations differ from torch's,
    with the likely cause when a torch block with a known slip reproduces it; None if all match."""
    if not isinstance(stages, dict):
        return None
    previous = x
    for name, act in want.items():
        if name == "logits":
            return None
        got = stages.get(name)
        if ref.close(got, ref.nhwc(act)):
            previous = got.value
            continue
        hints, cause = [], ""
        if name == "stem":
            if isinstance(got, StudentArray) and got.shape != ref.nhwc(act).shape:
                hints.append("nchw_nhwc")
        else:
            i, j = name[len("layer")], int(name[-1])
            down = j == 0 and i != "1"
            slip = ref.likely_slip(got, previous, sd, f"layer{i}.{j}.", down)
            if slip:
                cause = f" It matches torch's block computed with {_CAUSES[slip]}."
                hints.append("missing_shortcut" if slip == "no_projection_bn" else slip)
        shown = f"{got.shape}" if isinstance(got, StudentArray) else show(got)
        return (f"The first activations that differ are after {name} (yours {shown}, torch's"
                f" {tuple(ref.nhwc(act).shape)}); everything before matches.{cause}", hints[0] if hints else None)
    return None


@graded("ex05_port_check", points=3)
def test_port_logits(student, rng):
    """With ported weights, eval-mode logits equal torch's to 1e-4 (max abs error); otherwise the first
    diverging stage or block is named, with the likely cause."""
    model, x, _, stages = _port(student, rng)
    want = _torch_stages(model, x)
    if not isinstance(stages, dict) or not isinstance(stages.get("logits"), StudentArray):
        fail(f"graded_port returned no logits ({show(stages)}).")
    logits = stages["logits"]
    if ref.close(logits, want["logits"].numpy(), tol=0) or (
            isinstance(logits, StudentArray) and logits.shape == tuple(want["logits"].shape)
            and float(np.abs(logits.value - want["logits"].numpy()).max()) <= 1e-4):
        return
    found = _first_divergence(stages, want, x, model.state_dict())
    if found is not None:
        fail(f"The logits differ from torch's (eval mode, ported weights, images {x.shape}). {found[0]}", found[1])
    expect_array(logits, want["logits"], rtol=0, atol=1e-4,
                 what="the logits of your ported ResNet18 (eval mode); the stages all match, so look at"
                      " the pooling and fc")


# Exercise 6 -------------------------------------------------------------------------------------

@graded("ex06_modes_check", points=1)
def test_torch_running_var(student, rng):
    """torch_running_var(old, new, n) gives torch's running_var from Flax's biased update."""
    c, n = int(rng.integers(3, 20)), int(rng.integers(2, 300))
    old = rng.uniform(0.1, 2.0, c).astype(np.float32)
    batch = rng.uniform(0.1, 3.0, c).astype(np.float32)
    new = (0.9 * old + 0.1 * batch).astype(np.float32)
    want = 0.9 * old.astype(np.float64) + 0.1 * batch.astype(np.float64) * n / (n - 1)
    got = student.call("torch_running_var", as_jax(old), as_jax(new), n)
    expect_array(got, want, dtype="float32", rtol=1e-4, atol=1e-5,
                 what=f"torch_running_var(old, new, {n}) for {c} channels", hints=("bn_biased_variance",))


def _small_case(rng):
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    bn = torch.nn.BatchNorm2d(8)
    ref.randomize_(torch.nn.Sequential(conv, bn), int(rng.integers(2**31)))
    params = {"layers/0/kernel": ref.to_flax("k", conv.weight), "layers/1/scale": bn.weight.detach().numpy(),
              "layers/1/bias": bn.bias.detach().numpy(), "layers/1/mean": bn.running_mean.numpy(),
              "layers/1/var": bn.running_var.numpy()}
    x1, x2 = _images(rng, int(rng.integers(2, 5)), 6), _images(rng, 2, 6)
    return conv, bn, params, x1, x2


def _small(student, rng):
    conv, bn, params, x1, x2 = _small_case(rng)
    got = ref.unwrap_dict(student.call("graded_modes_small", params, x1, x2),
                          ("train", "after_train", "eval", "after_eval"), "graded_modes_small")
    return conv, bn, x1, x2, got


@graded("ex06_modes_check", points=1)
def test_train_forward(student, rng):
    """train_forward normalizes with the batch's statistics and updates the running mean as torch does."""
    conv, bn, x1, _, got = _small(student, rng)
    bn.train()
    with torch.no_grad():
        want = torch.relu(bn(conv(ref.nchw(x1))))
    with extra_hints("batchnorm_train_mode"):
        expect_array(got["train"], ref.nhwc(want), rtol=1e-4, atol=1e-4, what="train_forward(net, x)")
        after = got["after_train"] if isinstance(got["after_train"], dict) else {}
        expect_array(after.get("layers/1/mean"), bn.running_mean, rtol=1e-5, atol=1e-5,
                     what="the running mean after train_forward(net, x)")


@graded("ex06_modes_check", points=1)
def test_eval_forward(student, rng):
    """eval_forward normalizes with the running statistics and leaves them unchanged."""
    conv, bn, _, x2, got = _small(student, rng)
    after = got["after_train"] if isinstance(got["after_train"], dict) else {}
    after_eval = got["after_eval"] if isinstance(got["after_eval"], dict) else {}
    # the network as it is after the train step (Flax's statistics), in eval mode
    mean, var = after.get("layers/1/mean"), after.get("layers/1/var")
    if not (isinstance(mean, StudentArray) and isinstance(var, StudentArray)):
        fail("train_forward(net, x) left no running statistics to evaluate with.")
    for key, value, torch_stat in (("mean", mean, bn.running_mean), ("var", var, bn.running_var)):
        # student data first validated (kind, dtype, shape) so that a wrong one is feedback, not a crash
        expect_array(value, torch_stat, rtol=0, atol=np.inf, what=f"the running {key} after train_forward(net, x)",
                     hints=("batchnorm_train_mode",))
    with torch.no_grad():
        bn.running_mean.copy_(torch.from_numpy(mean.value.astype(np.float32)))
        bn.running_var.copy_(torch.from_numpy(var.value.astype(np.float32)))
        bn.eval()
        want = torch.relu(bn(conv(ref.nchw(x2))))
    with extra_hints("batchnorm_train_mode"):
        expect_array(got["eval"], ref.nhwc(want), rtol=1e-4, atol=1e-4, what="eval_forward(net, x)")
        for key in ("layers/1/mean", "layers/1/var"):
            expect_array(after_eval.get(key), after[key], rtol=0, atol=0,
                         what=f"{key} after eval_forward (it must not move)")


def _expect_train_logits(student, seed, x, got, want):
    """Train-mode logits of the ported model. When they differ, a cause is named only on evidence:
    torch's *eval-mode* logits mean the model was not put in training mode; a block that differs
    already in eval mode (the graded_port of Exercise 5) is named as Exercise 5 names it; otherwise
    no cause is guessed."""
    what = "train_forward(ported model, x): the logits"
    if (isinstance(got, StudentArray) and got.shape == tuple(want.shape)
            and float(np.abs(got.value.astype(np.float64) - want.numpy()).max(initial=0.0)) <= 1e-4):
        return
    model = ref.randomized_torch_model(seed)
    with torch.no_grad():
        eval_logits = model(ref.nchw(x)).numpy()
    if ref.close(got, eval_logits, tol=1e-5):
        fail(f"{what} are torch's logits in *evaluation* mode: train_forward did not put the model in training"
             " mode, so BatchNorm normalized with its running statistics instead of the batch's.",
             "batchnorm_train_mode")
    port = student.call("graded_port", seed, x)
    stages = port.get("stages") if isinstance(port, dict) else None
    found = _first_divergence(stages, _torch_stages(model, x), x, model.state_dict())
    if found is not None:
        fail(f"{what} differ from torch's. The model differs already in evaluation mode (the port of Exercise 5"
             f" on the same images): {found[0]}", found[1])
    expect_array(got, want, rtol=0, atol=1e-4,
                 what=f"{what} (in evaluation mode your model matches torch's, so look at what training mode"
                      " changes: each BatchNorm normalizes with the batch's own mean and biased variance)")


def _bn_sizes(model, x):
    """n = N*H*W seen by every BatchNorm2d in one forward, by torch name prefix."""
    sizes, hooks = {}, []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            hooks.append(module.register_forward_hook(
                lambda m, inp, out, name=name: sizes.__setitem__(name, out.shape[0] * out.shape[2] * out.shape[3])))
    model(x)
    for h in hooks:
        h.remove()
    return sizes


@graded("ex06_modes_check", points=2)
def test_resnet_train_step(student, rng):
    """Ported ResNet18: one train_forward updates every running mean as torch's and every running variance
    as torch's once the unbiased variance is accounted for (1e-5 abs + 1e-5 rel); eval_forward then leaves
    them alone and gives the logits of torch's model holding those statistics (1e-4)."""
    seed = int(rng.integers(2**31))
    x1, x2 = _images(rng, int(rng.integers(4, 6))), _images(rng, 2)
    got = ref.unwrap_dict(student.call("graded_modes_resnet", seed, x1, x2),
                          ("train", "after_train", "eval", "after_eval"), "graded_modes_resnet")
    model = ref.randomized_torch_model(seed)
    old = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with torch.no_grad():
        sizes = _bn_sizes(model, ref.nchw(x1))
        model.load_state_dict(old)
        want_train = model(ref.nchw(x1))
    _expect_train_logits(student, seed, x1, got["train"], want_train)
    after = got["after_train"] if isinstance(got["after_train"], dict) else {}
    sd = model.state_dict()
    flax_like = {}
    for prefix, n in sizes.items():
        path_mean = ref.nnx_path(prefix + ".running_mean")
        path_var = ref.nnx_path(prefix + ".running_var")
        old_var = old[prefix + ".running_var"]
        flax_var = 0.9 * old_var + (sd[prefix + ".running_var"] - 0.9 * old_var) * (n - 1) / n
        flax_like[prefix] = flax_var
        expect_array(after.get(path_mean), sd[prefix + ".running_mean"], rtol=1e-5, atol=1e-5,
                     what=f"{path_mean} after train_forward (torch: {prefix}.running_mean)", hints=("bn_momentum",))
        expect_array(after.get(path_var), flax_var, rtol=1e-5, atol=1e-5,
                     what=f"{path_var} after train_forward (torch: {prefix}.running_var, made biased with n={n})",
                     hints=("bn_momentum", "bn_biased_variance"))
    after_eval = got["after_eval"] if isinstance(got["after_eval"], dict) else {}
    for path, arr in after.items():
        if not isinstance(arr, StudentArray):
            continue  # the interface's statistics were checked above; anything else is the student's own
        expect(ref.same_print(after_eval.get(path), ref.fingerprint(arr.value)),
               f"{path} changed during eval_forward: evaluation mode must leave the statistics alone.",
               "batchnorm_train_mode")
    with torch.no_grad():
        for prefix, flax_var in flax_like.items():
            sd[prefix + ".running_var"].copy_(flax_var)
        model.eval()
        want_eval = model(ref.nchw(x2))
    with extra_hints("batchnorm_train_mode"):
        expect_array(got["eval"], want_eval, rtol=0, atol=1e-4,
                     what="eval_forward(model, x) after the training step: the logits")


# Exercise 7 -------------------------------------------------------------------------------------

_ROUNDTRIPS: dict[int, tuple] = {}  # one fresh process per grade (it reruns the notebook's code): by student


def _roundtrip(student, rng):
    """Save in the student's kernel, load in a new Python process that ran only the notebook's code:
    a state kept in the kernel's memory (a module-level dict, a cache) cannot come back there. The three
    checks of Exercise 7 judge one such round trip (the first check's inputs)."""
    if id(student) not in _ROUNDTRIPS:
        try:
            _ROUNDTRIPS[id(student)] = (True, _fresh_roundtrip(student, rng))
        except CheckFailed as exc:
            _ROUNDTRIPS[id(student)] = (False, exc)
    ok, result = _ROUNDTRIPS[id(student)]
    if not ok:
        raise result
    return result


def _fresh_roundtrip(student, rng):
    seed = int(rng.integers(2**31))
    x = _images(rng, 2)
    saved = ref.unwrap_dict(student.call("graded_save", seed, x), ("path", "original", "logits"), "graded_save")
    want = {}
    for i, (path, shape) in enumerate(sorted(_SHAPES.items())):
        values = np.random.default_rng([seed, i]).normal(size=shape).astype(np.float32)
        want[path] = ref.fingerprint(np.abs(values) + np.float32(0.1) if path.endswith("/var") else values)
    original = saved["original"] if isinstance(saved["original"], dict) else {}
    if set(original) != set(_SHAPES) or any(not ref.same_print(original[p], want[p]) for p in want):
        fail("graded_save could not fill a ResNet18 with the grader's values: check Exercise 4 first.")
    if not isinstance(saved["path"], str):
        fail(f"graded_save returned no path ({show(saved['path'])}).")
    try:
        loaded = call_fresh(student, "graded_load", saved["path"], x)
    except StudentRaised as exc:
        raise CheckFailed(f"{_FRESH} there, load_state raised {exc.exc_type}: {exc.message[:400]}", exc.hints) from None
    loaded = ref.unwrap_dict(loaded, ("state", "kinds", "logits"), "graded_load")
    state = loaded["state"] if isinstance(loaded["state"], dict) else {}
    return saved, loaded, state, want


_FRESH = ("The grader saved a model with your save_state, then loaded the file with your load_state in a new"
          " Python process that ran only your notebook's code (nothing kept in memory survives that): the state"
          " must be in the file at `path`.")


def _restored(state, want, stats):
    for path, print_ in want.items():
        if ref.is_stat(path) != stats:
            continue
        got = state.get(path)
        expect(isinstance(got, list) and got == print_,
               f"{path} did not come back exactly after save_state and load_state. {_FRESH}",
               "state_dict_vs_nnx_state" if stats else None)


@graded("ex07_save_check", points=1)
def test_params_restored(student, rng):
    """After save_state, load_state in a fresh process restores every nnx.Param exactly."""
    _, _, state, want = _roundtrip(student, rng)
    _restored(state, want, False)


@graded("ex07_save_check", points=1)
def test_batch_stats_restored(student, rng):
    """Every BatchNorm statistic (nnx.BatchStat) is restored exactly too."""
    _, _, state, want = _roundtrip(student, rng)
    _restored(state, want, True)


@graded("ex07_save_check", points=1)
def test_loaded_logits(student, rng):
    """The model loaded in a fresh process computes the saved model's eval-mode logits."""
    saved, loaded, _, _ = _roundtrip(student, rng)
    if not isinstance(saved["logits"], StudentArray):
        fail(f"graded_save returned no logits ({show(saved['logits'])}).")
    expect_array(loaded["logits"], saved["logits"].value, rtol=0, atol=1e-6,
                 what="the logits of the model your load_state read in a new Python process",
                 hints=("state_dict_vs_nnx_state",))
