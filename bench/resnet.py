"""The course's CIFAR ResNet18 in PyTorch and in Flax NNX, for the benchmarks (not the graded reference).

3x3 stride-1 stem conv (no bias) + BatchNorm + ReLU, 2x2 max pool, four stages of two BasicBlocks
(64/128/256/512 channels, stride 2 entering stages 2-4), 1x1 stride-2 conv + BN projection shortcut
where the shape changes, global average pool, linear head; torchvision block order (add, then ReLU).
Torch's padding=1 is explicit ((1, 1), (1, 1)) in flax ("SAME" differs at stride 2); BatchNorm
momentum 0.1 (torch) = 0.9 (flax), epsilon 1e-5. Inputs: NCHW for torch, NHWC for JAX.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax import lax

_TORCH_RESNET = Path(__file__).resolve().parents[1] / "autograder" / "03_resnet" / "_torch_resnet.py"
STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))


# ---------------------------------------------------------------- Flax NNX
class ConvBN(nnx.Module):
    """Conv (no bias) + BatchNorm, the pair torchvision uses everywhere."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, *, rngs: nnx.Rngs,
                 conv: Callable[..., jax.Array] = lax.conv_general_dilated) -> None:
        pad = kernel // 2
        self.conv = nnx.Conv(cin, cout, (kernel, kernel), strides=(stride, stride), padding=((pad, pad), (pad, pad)),
                             use_bias=False, conv_general_dilated=conv, rngs=rngs)
        self.bn = nnx.BatchNorm(cout, momentum=0.9, epsilon=1e-5, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.bn(self.conv(x))


class BasicBlock(nnx.Module):
    """Two 3x3 ConvBN with a residual connection (projection shortcut when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int, *, rngs: nnx.Rngs,
                 conv: Callable[..., jax.Array] = lax.conv_general_dilated) -> None:
        self.conv1_bn1 = ConvBN(cin, cout, 3, stride, rngs=rngs, conv=conv)
        self.conv2_bn2 = ConvBN(cout, cout, 3, 1, rngs=rngs, conv=conv)
        self.conv3_bn3 = ConvBN(cin, cout, 1, stride, rngs=rngs, conv=conv) if (stride, cin) != (1, cout) else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.conv2_bn2(nnx.relu(self.conv1_bn1(x)))
        shortcut = x if self.conv3_bn3 is None else self.conv3_bn3(x)
        return nnx.relu(y + shortcut)


class ResNet18(nnx.Module):
    """CIFAR ResNet18, NHWC; `conv` is the convolution every `nnx.Conv` uses."""

    def __init__(self, num_classes: int = 10, *, rngs: nnx.Rngs,
                 conv: Callable[..., jax.Array] = lax.conv_general_dilated) -> None:
        self.conv1_bn1 = ConvBN(3, 64, 3, 1, rngs=rngs, conv=conv)
        cin = 64
        layers = []
        for cout, stride in STAGES:
            layers.append(nnx.Sequential(BasicBlock(cin, cout, stride, rngs=rngs, conv=conv),
                                         BasicBlock(cout, cout, 1, rngs=rngs, conv=conv)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nnx.Linear(512, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.relu(self.conv1_bn1(x))
        x = nnx.max_pool(x, (2, 2), strides=(2, 2))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(jnp.mean(x, axis=(1, 2)))


# ---------------------------------------------------------------- PyTorch
def jitted_train_step() -> Callable[[ResNet18, nnx.Optimizer, jax.Array, jax.Array], jax.Array]:
    """One SGD/Adam step of cross-entropy on (x, y), under ``nnx.jit`` (a new function per call)."""

    @nnx.jit
    def train_step(model: ResNet18, opt: nnx.Optimizer, x: jax.Array, y: jax.Array) -> jax.Array:
        def loss_fn(model: ResNet18) -> jax.Array:
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        opt.update(model, grads)
        return loss

    return train_step


def torch_resnet18(num_classes: int = 10) -> Any:
    """The course's PyTorch ResNet18 (NCHW): the one definition in autograder/03_resnet/_torch_resnet.py,
    which the notebooks' locked cells and the hidden checks use too; loaded here so that importing this
    module needs no torch."""
    spec = importlib.util.spec_from_file_location("_bench_torch_resnet", _TORCH_RESNET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TorchResNet18(num_classes)
