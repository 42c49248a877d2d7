"""Wrong-but-plausible answers to 03_resnet, as a PyTorch user would write them, and the points each loses.

Each variant replaces the source of some answer cells (by grade_id) in the solution notebook; ``lost``
gives, per grade cell, exactly how many points the variant must lose (cells not listed lose none).
Later exercises build on earlier ones (conv_bn in BasicBlock in ResNet18, all of it in port_weights and
the training step of Exercise 6): a variant that breaks a layer loses points there too.
"""

_CONV_BN = (
    "def conv_bn(in_planes, out_planes, kernel_size, stride, *, rngs):\n"
    '    """nnx.Sequential(nnx.Conv, nnx.BatchNorm)."""\n'
    "    p = kernel_size // 2\n"
    "    return nnx.Sequential(\n"
    "        nnx.Conv(in_planes, out_planes, (kernel_size, kernel_size), strides=stride,\n"
    "                 padding={padding}, use_bias=False, conv_general_dilated=fast_conv, rngs=rngs),\n"
    "        nnx.BatchNorm(out_planes, momentum={momentum}, epsilon=1e-5, rngs=rngs),\n"
    "    )\n"
)

_BLOCK = (
    "class BasicBlock(nnx.Module):\n"
    "    def __init__(self, in_planes, out_planes, do_downsample=False, *, rngs):\n"
    "        stride = 2 if do_downsample else 1\n"
    "        self.conv1_bn1 = conv_bn(in_planes, out_planes, 3, stride, rngs=rngs)\n"
    "        self.conv2_bn2 = conv_bn(out_planes, out_planes, 3, 1, rngs=rngs)\n"
    "        self.conv3_bn3 = conv_bn(in_planes, out_planes, 1, 2, rngs=rngs) if do_downsample else None\n"
    "\n"
    "    def __call__(self, x):\n"
    "        out = nnx.relu(self.conv1_bn1(x))\n"
    "        out = nnx.relu(self.conv2_bn2(out))          # the tutorial's ReLU before the add\n"
    "        shortcut = x if self.conv3_bn3 is None else self.conv3_bn3(x)\n"
    "        return nnx.relu(out + shortcut)\n"
)

_PORT = (
    "def port_weights(torch_model, nnx_model):\n"
    "    def arr(t):\n"
    "        return jnp.asarray(t.detach().cpu().numpy())\n"
    "\n"
    "    def copy_pair(pair, conv, bn):\n"
    "        {kernel}\n"
    "        norm = pair.layers[1]\n"
    "        norm.scale[...] = arr(bn.weight)\n"
    "        norm.bias[...] = arr(bn.bias)\n"
    "{stats}"
    "\n"
    "    copy_pair(nnx_model.conv1_bn1, torch_model.conv1, torch_model.bn1)\n"
    "    for i in range(1, 5):\n"
    '        stage_t, stage_j = getattr(torch_model, f"layer{{i}}"), getattr(nnx_model, f"layer{{i}}")\n'
    "        for block_t, block_j in zip(stage_t, stage_j.layers):\n"
    "            copy_pair(block_j.conv1_bn1, block_t.conv1, block_t.bn1)\n"
    "            copy_pair(block_j.conv2_bn2, block_t.conv2, block_t.bn2)\n"
    "            if block_t.downsample is not None:\n"
    "                copy_pair(block_j.conv3_bn3, block_t.downsample[0], block_t.downsample[1])\n"
    "    nnx_model.fc.kernel[...] = linear_to_flax(arr(torch_model.fc.weight))\n"
    "    nnx_model.fc.bias[...] = arr(torch_model.fc.bias)\n"
    "    return nnx_model\n"
)
_STATS = "        norm.mean[...] = arr(bn.running_mean)\n        norm.var[...] = arr(bn.running_var)\n"
_TRANSPOSED = "pair.layers[0].kernel[...] = kernel_to_hwio(arr(conv.weight))"
_RESHAPED = "pair.layers[0].kernel[...] = arr(conv.weight).reshape(pair.layers[0].kernel[...].shape)"

VARIANTS = {
    "same_padding": {
        "description": "keeps nnx.Conv's default padding='SAME': right at stride 1, but on the stride-2"
        " convolutions it pads (0, 1) where torch pads (1, 1): same shapes, shifted values from layer2 on",
        "answers": {"ex02_conv_bn": _CONV_BN.format(padding='"SAME"', momentum="0.9")},
        "lost": {"ex02_conv_bn_check": 2, "ex03_block_check": 2, "ex05_port_check": 3, "ex06_modes_check": 2},
        "hints": {"ex05_port_check": ["same_padding_stride2"]},
        "not_hints": {"ex06_modes_check": ["batchnorm_train_mode"]},
    },
    "reshape_images": {
        "description": "turns NCHW into NHWC with reshape, as x.view(n, h, w, c) would: right shape, scrambled"
        " numbers",
        "answers": {"ex01_layouts": (
            "def to_nhwc(x):\n"
            "    n, c, h, w = x.shape\n"
            "    return x.reshape(n, h, w, c)\n"
            "\n"
            "\n"
            "def kernel_to_hwio(w):\n"
            "    return jnp.transpose(w, (2, 3, 1, 0))\n"
            "\n"
            "\n"
            "def linear_to_flax(w):\n"
            "    return w.T\n"
        )},
        "lost": {"ex01_layouts_check": 1},
    },
    "load_params_only": {
        "description": "saves and loads nnx.state(model, nnx.Param) only, as if the BatchNorm statistics were"
        " not part of the model (torch's buffers)",
        "answers": {"ex07_save": (
            "def save_state(model, path):\n"
            "    arrays = {p: np.asarray(v[...]) for p, v in flat_state(model, nnx.Param).items()}\n"
            '    with open(path, "wb") as f:\n'
            "        np.savez(f, **arrays)\n"
            "\n"
            "\n"
            "def load_state(model, path):\n"
            "    with np.load(path) as data:\n"
            "        load_flat(model, {name: data[name] for name in data.files})\n"
            "    return model\n"
        )},
        "lost": {"ex07_save_check": 2},
    },
    "torch_momentum": {
        "description": "passes torch's momentum=0.1 to nnx.BatchNorm: eval mode is unaffected, but every"
        " training step moves the running statistics 90% towards the batch instead of 10%",
        "answers": {"ex02_conv_bn": _CONV_BN.format(padding="((p, p), (p, p))", momentum="0.1")},
        "lost": {"ex02_conv_bn_check": 2, "ex06_modes_check": 2},
    },
    "relu_before_add": {
        "description": "the tutorial's block: ReLU after the second BatchNorm, before the shortcut is added",
        "answers": {"ex03_block": _BLOCK},
        "lost": {"ex03_block_check": 4, "ex05_port_check": 3, "ex06_modes_check": 2},
        # the divergence feedback names the slip (issue 13.9); ex06 does not blame BatchNorm's mode (13.10)
        "hints": {"ex03_block_check": ["relu_before_add"], "ex05_port_check": ["relu_before_add"]},
        "not_hints": {"ex06_modes_check": ["batchnorm_train_mode"]},
    },
    "reshaped_kernels": {
        "description": "copies torch's OIHW kernels with reshape instead of transpose: the shapes fit, the"
        " numbers are scrambled",
        "answers": {"ex05_port": _PORT.format(kernel=_RESHAPED, stats=_STATS)},
        "lost": {"ex05_port_check": 5, "ex06_modes_check": 2},
    },
    "forgets_bn_stats": {
        "description": "copies BatchNorm's weight and bias but not running_mean/running_var (buffers, not"
        " parameters in torch): Flax's defaults stay, which a fresh torch model would share",
        "answers": {"ex05_port": _PORT.format(kernel=_TRANSPOSED, stats="")},
        "lost": {"ex05_port_check": 5, "ex06_modes_check": 2},
    },
    "memory_save": {
        "description": "save_state keeps the state in a module-level dict and load_state returns it from"
        " memory: nothing is written to path (issue 13.5)",
        "answers": {"ex07_save": (
            "_saved = {}\n"
            "\n"
            "\n"
            "def save_state(model, path):\n"
            "    _saved[path] = {p: v[...] for p, v in flat_state(model).items()}\n"
            "    open(path, 'wb').close()\n"
            "\n"
            "\n"
            "def load_state(model, path):\n"
            "    load_flat(model, _saved.get(path, {}))\n"
            "    return model\n"
        )},
        "lost": {"ex07_save_check": 3},
    },
    "pickle_save_setattr_stages": {
        "description": "not wrong: stages built with setattr in a loop, a docstring about 'the points',"
        " and a pickle-based save; full marks and no review flag (issue 13.8)",
        "answers": {
            "ex04_resnet": (
                "class ResNet18(nnx.Module):\n"
                "    def __init__(self, num_classes, *, rngs):\n"
                '        """ResNet18; the stem samples the image at the points of a 3x3 grid."""\n'
                "        self.conv1_bn1 = conv_bn(3, 64, 3, 1, rngs=rngs)\n"
                "        widths = [64, 64, 128, 256, 512]\n"
                "        for i in range(1, 5):\n"
                "            cin, cout = widths[i - 1], widths[i]\n"
                "            stage = nnx.Sequential(BasicBlock(cin, cout, i > 1, rngs=rngs),\n"
                "                                   BasicBlock(cout, cout, rngs=rngs))\n"
                '            setattr(self, f"layer{i}", stage)\n'
                "        self.fc = nnx.Linear(512, num_classes, rngs=rngs)\n"
                "\n"
                "    def __call__(self, x):\n"
                "        x = nnx.max_pool(nnx.relu(self.conv1_bn1(x)), (2, 2), strides=(2, 2))\n"
                "        for i in range(1, 5):\n"
                '            x = getattr(self, f"layer{i}")(x)\n'
                "        return self.fc(jnp.mean(x, axis=(1, 2)))\n"
            ),
            "ex07_save": (
                "import pickle\n"
                "\n"
                "\n"
                "def save_state(model, path):\n"
                "    arrays = {p: np.asarray(v[...]) for p, v in flat_state(model).items()}\n"
                "    with open(path, 'wb') as f:\n"
                "        pickle.dump(arrays, f)\n"
                "\n"
                "\n"
                "def load_state(model, path):\n"
                "    with open(path, 'rb') as f:\n"
                "        arrays = pickle.load(f)\n"
                "    load_flat(model, arrays)\n"
                "    return model\n"
            ),
        },
        "lost": {},
    },
}
