"""Wrong-but-plausible answers to 05_jit, as a PyTorch user would write them, and the points each loses.

Each variant replaces the source of some answer cells (by grade_id) in the solution notebook; ``lost``
gives, per grade cell, exactly how many points the variant must lose (cells not listed lose none).
"""

_EAGER = (
    "def relu_mul_add(x, y):\n"
    '    """relu(x * y) + x, elementwise."""\n'
    "    return jax.nn.relu(x * y) + x\n"
    "\n"
    "\n"
)

VARIANTS = {
    "no_block_until_ready": {
        "description": "times each call without waiting for the result (as on a CPU in PyTorch): JAX's"
        " asynchronous dispatch returns in microseconds and the clock measures the queueing",
        "answers": {
            "ex01_time_it": (
                "def time_it(f, *args, n=7):\n"
                "    start = time.perf_counter()\n"
                "    f(*args)\n"
                "    first_s = time.perf_counter() - start\n"
                "    times = []\n"
                "    for _ in range(n):\n"
                "        start = time.perf_counter()\n"
                "        f(*args)\n"
                "        times.append(time.perf_counter() - start)\n"
                "    return first_s, float(np.median(times))\n"
            ),
        },
        "lost": {"ex01_time_it_check": 1},
        "hints": {"ex01_time_it_check": ["block_until_ready"]},
    },
    "mean_with_compile": {
        "description": "reports the mean of all calls, the first (compiling) one included, as the steady time",
        "answers": {
            "ex01_time_it": (
                "def time_it(f, *args, n=7):\n"
                "    times = []\n"
                "    for _ in range(n + 1):\n"
                "        start = time.perf_counter()\n"
                "        jax.block_until_ready(f(*args))\n"
                "        times.append(time.perf_counter() - start)\n"
                "    return times[0], float(np.mean(times))\n"
            ),
        },
        "lost": {"ex01_time_it_check": 1},
        "hints": {"ex01_time_it_check": ["compile_in_timing"]},
    },
    "eager_only": {
        "description": "binds relu_mul_add_jit to the eager function (jit left for later): right values, not"
        " compiled, as slow as the grader's eager chain",
        "answers": {"ex02_chain": _EAGER + "relu_mul_add_jit = relu_mul_add\n"},
        "lost": {"ex02_chain_check": 3},
        "hints": {"ex02_chain_check": ["not_jitted"]},
    },
    "jit_inside_each_call": {
        "description": "calls jax.jit on a new lambda inside the function, as torch.compile is sometimes called"
        " per step: a plain function, compiled again on every call",
        "answers": {"ex02_chain": _EAGER + (
            "def relu_mul_add_jit(x, y):\n"
            "    return jax.jit(lambda a, b: relu_mul_add(a, b))(x, y)\n"
        )},
        "lost": {"ex02_chain_check": 3},
        "hints": {"ex02_chain_check": ["not_jitted", "recompiles"]},
    },
    "bfloat16_for_speed": {
        "description": "computes the jitted chain in bfloat16 to halve the bytes moved, and casts back to float32",
        "answers": {"ex02_chain": _EAGER + (
            "@jax.jit\n"
            "def relu_mul_add_jit(x, y):\n"
            "    return relu_mul_add(x.astype(jnp.bfloat16), y.astype(jnp.bfloat16)).astype(jnp.float32)\n"
        )},
        "lost": {"ex02_chain_check": 3},
        "hints": {"ex02_chain_check": ["low_precision"]},
    },
    "python_if_on_norm": {
        "description": "keeps PyTorch's `if norm > max_norm:` inside the jitted function: TracerBoolConversionError",
        "answers": {
            "ex04_clip": (
                "@jax.jit\n"
                "def clip_by_norm(x, max_norm):\n"
                "    norm = jnp.sqrt(jnp.sum(x * x))\n"
                "    if norm > max_norm:\n"
                "        x = x * (max_norm / norm)\n"
                "    return x\n"
            ),
        },
        "lost": {"ex04_clip_check": 2},
        "hints": {"ex04_clip_check": ["host_in_traced"]},
    },
    "unrolled_static_loop": {
        "description": "a Python for loop with n_steps made static: right values, one copy of the body per step"
        " and a new compile for every step count",
        "answers": {
            "ex05_power": (
                "from functools import partial\n"
                "\n"
                "\n"
                "@partial(jax.jit, static_argnums=2)\n"
                "def power_iteration(a, v, n_steps):\n"
                "    for _ in range(n_steps):\n"
                "        v = a @ v\n"
                "        v = v / jnp.linalg.norm(v)\n"
                "    return v\n"
            ),
        },
        "lost": {"ex05_power_check": 2},
        "hints": {"ex05_power_check": ["python_unrolled", "recompiles"]},
    },
    "numpy_mask_at_trace_time": {
        "description": "draws the dropout mask with NumPy's global generator, as torch.rand would: under jit it"
        " runs once, at trace time, and every key gives the same mask",
        "answers": {
            "ex06_dropout": (
                "def _dropout(x, key, rate):\n"
                "    keep = np.random.rand(*x.shape) >= rate\n"
                "    return jnp.where(keep, x / (1.0 - rate), 0.0)\n"
                "\n"
                "\n"
                'dropout = jax.jit(_dropout, static_argnames="rate")\n'
            ),
        },
        "lost": {"ex06_dropout_check": 1},
        "hints": {"ex06_dropout_check": ["trace_side_effect"]},
    },
    "only_the_gradient_jitted": {
        "description": "jits the gradient computation but runs the update eagerly, outside: right numbers, the"
        " step is not one compiled program",
        "answers": {
            "ex07_train_step": (
                "@jax.jit\n"
                "def _grads(graphdef, state, x, y):\n"
                "    model = nnx.merge(graphdef, state)\n"
                "    return nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)\n"
                "\n"
                "\n"
                "def train_step(graphdef, state, x, y, lr):\n"
                "    loss, grads = _grads(graphdef, state, x, y)\n"
                "    model = nnx.merge(graphdef, state)\n"
                "    params = nnx.state(model, nnx.Param)\n"
                "    nnx.update(model, jax.tree.map(lambda p, g: p - lr * g, params, grads))\n"
                "    return nnx.state(model), loss\n"
            ),
        },
        "lost": {"ex07_train_step_check": 1},
        "hints": {"ex07_train_step_check": ["not_jitted"]},
    },
    "bytes_written_only": {
        "description": "counts only the arrays each pass writes (3 eager, 1 fused), forgetting the reads",
        "answers": {
            "ex08_bytes": (
                "def bytes_moved(shape, dtype):\n"
                "    n = int(np.prod(shape)) * jnp.dtype(dtype).itemsize\n"
                "    return 3 * n, n\n"
            ),
        },
        "lost": {"ex08_bytes_check": 2},
    },
    "profile_on_the_model_input": {
        "description": "times every stage on the model's input, as one might feed each submodule a random batch"
        " of the input's shape: stages run at shapes the model never gives them",
        "answers": {
            "ex09_profile": (
                "def profile_stages(stages, x, n=3):\n"
                "    return {name: time_it(f, x, n=n)[1] for name, f in stages}\n"
            ),
        },
        "lost": {"ex09_profile_check": 1},
        "hints": {"ex09_profile_check": ["stage_inputs"]},
    },
    "profile_one_call_each": {
        "description": "times each stage once, its first call: compilation counted as the stage's run time",
        "answers": {
            "ex09_profile": (
                "def profile_stages(stages, x, n=3):\n"
                "    times = {}\n"
                "    for name, f in stages:\n"
                "        start = time.perf_counter()\n"
                "        x = jax.block_until_ready(f(x))\n"
                "        times[name] = time.perf_counter() - start\n"
                "    return times\n"
            ),
        },
        "lost": {"ex09_profile_check": 1},
        "hints": {"ex09_profile_check": ["compile_in_timing"]},
    },
    "library_conv_inside": {
        "description": "writes conv3x3 with lax.conv_general_dilated after all: right values and gradients, but a"
        " convolution in its jaxpr and no faster than XLA's own on 2x2 maps",
        "answers": {
            "ex10_conv": (
                "def conv3x3(x, w):\n"
                "    return lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),\n"
                '                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))\n'
            ),
        },
        "lost": {"ex10_conv_check": 2},
    },
    "windows_in_the_wrong_order": {
        "description": "concatenates the 9 windows column-major (j outer, i inner) while reshaping the HWIO kernel"
        " row-major: every output pairs windows with the wrong kernel taps",
        "answers": {
            "ex10_conv": (
                "def conv3x3(x, w):\n"
                "    n, h, wd, cin = x.shape\n"
                "    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))\n"
                "    windows = [xp[:, i:i + h, j:j + wd, :] for j in range(3) for i in range(3)]\n"
                "    cols = jnp.concatenate(windows, axis=-1)\n"
                "    return (cols.reshape(-1, 9 * cin) @ w.reshape(9 * cin, -1)).reshape(n, h, wd, -1)\n"
            ),
        },
        "lost": {"ex10_conv_check": 3},
    },
    "other_spellings": {
        "description": "honest answers written differently: a decorated chain with jnp.maximum, lax.cond for the"
        " clip, lax.while_loop for power iteration, a uniform draw for the mask, optax.sgd for the step",
        "answers": {
            "ex02_chain": (
                "def relu_mul_add(x, y):\n"
                "    return jnp.maximum(x * y, 0.0) + x\n"
                "\n"
                "\n"
                "@jax.jit\n"
                "def relu_mul_add_jit(x, y):\n"
                "    return jnp.maximum(x * y, 0.0) + x\n"
            ),
            "ex04_clip": (
                "@jax.jit\n"
                "def clip_by_norm(x, max_norm):\n"
                "    norm = jnp.linalg.norm(x.ravel())\n"
                "    return lax.cond(norm > max_norm, lambda v: v * (max_norm / norm), lambda v: v, x)\n"
            ),
            "ex05_power": (
                "@jax.jit\n"
                "def power_iteration(a, v, n_steps):\n"
                "    def body(carry):\n"
                "        i, v = carry\n"
                "        w = a @ v\n"
                "        return i + 1, w / jnp.linalg.norm(w)\n"
                "    return lax.while_loop(lambda c: c[0] < n_steps, body, (0, v))[1]\n"
            ),
            "ex06_dropout": (
                "from functools import partial\n"
                "\n"
                "\n"
                '@partial(jax.jit, static_argnames=("rate",))\n'
                "def dropout(x, key, rate):\n"
                "    keep = jax.random.uniform(key, x.shape) >= rate\n"
                "    return jnp.where(keep, x / (1 - rate), jnp.zeros_like(x))\n"
            ),
            "ex07_train_step": (
                "@jax.jit\n"
                "def train_step(graphdef, state, x, y, lr):\n"
                "    model = nnx.merge(graphdef, state)\n"
                "    loss, grads = nnx.value_and_grad(lambda m: 2 * optax.l2_loss(m(x), y).mean())(model)\n"
                "    graphdef, params, rest = nnx.split(model, nnx.Param, ...)\n"
                "    params = optax.apply_updates(params, jax.tree.map(lambda g: -lr * g, grads))\n"
                "    return nnx.state(nnx.merge(graphdef, params, rest)), loss\n"
            ),
            "ex09_profile": (
                "def profile_stages(stages, x, n=3):\n"
                "    profile, current = {}, x\n"
                "    for name, stage in stages:\n"
                "        jax.block_until_ready(stage(current))  # compile first\n"
                "        times = []\n"
                "        for _ in range(n):\n"
                "            t0 = time.perf_counter()\n"
                "            out = jax.block_until_ready(stage(current))\n"
                "            times.append(time.perf_counter() - t0)\n"
                "        profile[name] = float(sorted(times)[len(times) // 2])\n"
                "        current = out\n"
                "    return profile\n"
            ),
            "ex10_conv": (
                "def conv3x3(x, w):\n"
                "    h, wd = x.shape[1], x.shape[2]\n"
                "    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))\n"
                "    taps = jnp.stack([xp[:, i:i + h, j:j + wd] for i in range(3) for j in range(3)], axis=3)\n"
                '    return jnp.einsum("nhwkc,kcd->nhwd", taps, w.reshape(9, w.shape[2], w.shape[3]))\n'
            ),
        },
        "lost": {},
    },
}
