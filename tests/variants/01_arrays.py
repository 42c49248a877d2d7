"""Wrong-but-plausible answers to 01_arrays, as a PyTorch user would write them, and the points each loses.

Each variant replaces the source of some answer cells (by grade_id) in the solution notebook; ``lost``
gives, per grade cell, exactly how many points the variant must lose (cells not listed lose none).
"""

VARIANTS = {
    "int64_habit": {
        "description": "asks for int64 as torch would give it, without the x64 scope: JAX narrows to int32"
        " (with only a UserWarning) and the sum wraps around",
        "answers": {
            "ex05_exact_sum": (
                "def exact_sum(values):\n"
                '    """Exact sum of an int64 NumPy array, as an int64 jax.Array."""\n'
                "    return jnp.asarray(values, dtype=jnp.int64).sum()\n"
            ),
        },
        "lost": {"ex05_exact_sum_check": 2},
    },
    "x64_global": {
        "description": "switches x64 on for the whole program in the answer cell instead of scoping it;"
        " the grader calls functions with the default configuration, so the sum is int32",
        "answers": {
            "ex05_exact_sum": (
                'jax.config.update("jax_enable_x64", True)\n'
                "\n"
                "\n"
                "def exact_sum(values):\n"
                '    """Exact sum of an int64 NumPy array, as an int64 jax.Array."""\n'
                "    return jnp.asarray(values).sum()\n"
            ),
        },
        "lost": {"ex05_exact_sum_check": 2},
        # known gap: the flag is flipped at module level, outside the function, so the grader (which
        # resets JAX's configuration before each call) sees only an int32 result and says
        # x64_not_enabled, while the notebook's self-check sees the leak and says x64_global. To fix:
        # the kernel side reports configuration the notebook left changed, and the check names it.
        "self_check_differs": {"ex05_exact_sum_check": "module-level x64 flag: grader says x64_not_enabled"},
        "alone": True,  # x64 stays on for every later cell of the notebook
    },
    "reused_key": {
        "description": "uses the key it was given for every draw: both draws identical, and the step is"
        " never folded in",
        "answers": {
            "ex06_two_draws": (
                "def two_draws(key, n):\n"
                '    """Two different N(0, 1) float32 vectors of length n, determined by key."""\n'
                "    a = jax.random.normal(key, (n,))\n"
                "    b = jax.random.normal(key, (n,))\n"
                "    return a, b\n"
            ),
            "ex07_step_noise": (
                "def step_noise(key, step, n):\n"
                '    """Uniform [0, 1) float32 vector of length n from key with step folded in."""\n'
                "    return jax.random.uniform(key, (n,))\n"
            ),
        },
        "lost": {"ex06_two_draws_check": 1, "ex07_step_noise_check": 2},
    },
    "manual_seed_habit": {
        "description": "seeds like torch.manual_seed: a fixed key, or a key made from the step, instead of"
        " the key passed in",
        "answers": {
            "ex06_two_draws": (
                "def two_draws(key, n):\n"
                '    """Two different N(0, 1) float32 vectors of length n, determined by key."""\n'
                "    key = jax.random.key(0)  # like torch.manual_seed(0)\n"
                "    k1, k2 = jax.random.split(key)\n"
                "    return jax.random.normal(k1, (n,)), jax.random.normal(k2, (n,))\n"
            ),
            "ex07_step_noise": (
                "def step_noise(key, step, n):\n"
                '    """Uniform [0, 1) float32 vector of length n from key with step folded in."""\n'
                "    return jax.random.uniform(jax.random.key(step), (n,))  # like torch.manual_seed(step)\n"
            ),
        },
        "lost": {"ex06_two_draws_check": 1, "ex07_step_noise_check": 2},
    },
    "inplace_update": {
        "description": "updates in place as in torch: x[:, j] = value and x[idx] += v raise TypeError",
        "answers": {
            "ex09_set_column": (
                "def set_column(x, j, value):\n"
                '    """x with column j set to value, as a new array."""\n'
                "    x[:, j] = value\n"
                "    return x\n"
            ),
            "ex10_scatter_add": (
                "def scatter_add(x, idx, v):\n"
                '    """x with v[k] added at idx[k]; repeated indices accumulate."""\n'
                "    x[idx] += v\n"
                "    return x\n"
            ),
        },
        "lost": {"ex09_set_column_check": 2, "ex10_scatter_add_check": 3},
    },
    "set_instead_of_add": {
        "description": "translates t[idx] += v literally into .at[idx].set(x[idx] + v): repeated indices"
        " keep one contribution",
        "answers": {
            "ex10_scatter_add": (
                "def scatter_add(x, idx, v):\n"
                '    """x with v[k] added at idx[k]; repeated indices accumulate."""\n'
                "    return x.at[idx].set(x[idx] + v)\n"
            ),
        },
        "lost": {"ex10_scatter_add_check": 2},
    },
    "torch_keywords": {
        "description": "torch's dim=/keepdim= keywords in jnp calls: TypeError (unexpected keyword argument)",
        "answers": {
            "ex15_join": (
                "def join(xs):\n"
                '    """(xs concatenated along columns, xs stacked along a new last axis)."""\n'
                "    return jnp.concatenate(xs, dim=1), jnp.stack(xs, dim=-1)\n"
            ),
            "ex18_reduce_tour": (
                "def reduce_tour(x):\n"
                '    """(column sums, row means with keepdims, x divided by its row sums)."""\n'
                "    return x.sum(dim=0), x.mean(dim=1, keepdim=True), x / x.sum(dim=1, keepdim=True)\n"
            ),
            "ex19_max_with_index": (
                "def max_with_index(x):\n"
                '    """(maximum of each row, column index of that maximum)."""\n'
                "    return jnp.max(x, dim=1), jnp.argmax(x, dim=1)\n"
            ),
        },
        "lost": {"ex15_join_check": 2, "ex18_reduce_tour_check": 2, "ex19_max_with_index_check": 2},
    },
    "keepdims_forgotten": {
        "description": "reduces without keepdims: row_means has shape (r,) instead of (r, 1)",
        "answers": {
            "ex18_reduce_tour": (
                "def reduce_tour(x):\n"
                '    """(column sums, row means with keepdims, x divided by its row sums)."""\n'
                "    row_sums = x.sum(axis=1)\n"
                "    return x.sum(axis=0), x.mean(axis=1), x / row_sums[:, None]\n"
            ),
        },
        "lost": {"ex18_reduce_tour_check": 1},
    },
    "torch_max_tuple": {
        "description": "unpacks jnp.max(x, axis=1) as if it were torch.max(t, dim=1)",
        "answers": {
            "ex19_max_with_index": (
                "def max_with_index(x):\n"
                '    """(maximum of each row, column index of that maximum)."""\n'
                "    values, indices = jnp.max(x, axis=1)\n"
                "    return values, indices\n"
            ),
        },
        "lost": {"ex19_max_with_index_check": 2},
    },
    "out_of_bounds_clamp": {
        "description": "relies on indexing to catch bad indices as torch does; JAX clamps instead",
        "answers": {
            "ex13_safe_take": (
                "def safe_take(x, idx, fill):\n"
                '    """x[i] for in-bounds i in idx, fill for out-of-bounds i."""\n'
                "    return x[idx]\n"
            ),
            "ex14_checked_take": (
                "def checked_take(x, idx):\n"
                '    """x[idx], raising IndexError when an index is out of bounds."""\n'
                "    return x[idx]  # torch raises IndexError here by itself\n"
            ),
        },
        "lost": {"ex13_safe_take_check": 2, "ex14_checked_take_check": 1},
    },
    "out_of_bounds_upper_only": {
        "description": "fills indices past the end but lets indices below -n clamp to the first element",
        "answers": {
            "ex13_safe_take": (
                "def safe_take(x, idx, fill):\n"
                '    """x[i] for in-bounds i in idx, fill for out-of-bounds i."""\n'
                "    return jnp.where(idx < x.shape[0], x[idx], fill)\n"
            ),
        },
        "lost": {"ex13_safe_take_check": 1},
    },
    "python_list_index": {
        "description": "indexes with a Python list as torch allows: TypeError in JAX",
        "answers": {
            "ex12_index_tour": (
                "def index_tour(x, rows):\n"
                '    """(rows of x listed in rows, x with columns reversed, x without its border)."""\n'
                "    return x[rows], jnp.flip(x, axis=1), x[1:-1, 1:-1]\n"
            ),
        },
        "lost": {"ex12_index_tour_check": 2},
    },
    "torch_attributes": {
        "description": "asks a jax.Array for torch's .dim() and .numel(): AttributeError",
        "answers": {
            "ex08_describe": (
                "def describe(x):\n"
                '    """{"shape", "ndim", "numel", "dtype", "device"} of a jax.Array."""\n'
                "    return {\n"
                '        "shape": tuple(x.shape),\n'
                '        "ndim": x.dim(),\n'
                '        "numel": x.numel(),\n'
                '        "dtype": str(x.dtype),\n'
                '        "device": x.device.id,\n'
                "    }\n"
            ),
        },
        "lost": {"ex08_describe_check": 2},
    },
    "numpy_result": {
        "description": "np.zeros_like and friends accept a jax.Array but return NumPy arrays",
        "answers": {
            "ex04_like": (
                "def like(x, value):\n"
                '    """(zeros, ones, filled with value), each with x\'s shape and dtype."""\n'
                "    return np.zeros_like(x), np.ones_like(x), np.full_like(x, value)\n"
            ),
        },
        "lost": {"ex04_like_check": 2},
    },
    "torch_result": {
        "description": "escapes to torch for the scatter-add (correct numbers) and returns the torch.Tensor",
        "answers": {
            "ex10_scatter_add": (
                "def scatter_add(x, idx, v):\n"
                '    """x with v[k] added at idx[k]; repeated indices accumulate."""\n'
                "    t = torch.from_dlpack(x).clone()\n"
                "    t.index_put_((torch.from_dlpack(idx).long(),), torch.from_dlpack(v), accumulate=True)\n"
                "    return t\n"
            ),
        },
        "lost": {"ex10_scatter_add_check": 3},
    },
    "mixed_devices": {
        "description": "adds arrays committed to different devices without moving one: ValueError",
        "answers": {
            "ex11_devices": (
                "def to_device(x, i):\n"
                '    """x committed to jax.devices("cpu")[i]."""\n'
                '    return jax.device_put(x, jax.devices("cpu")[i])\n'
                "\n"
                "\n"
                "def add_on_first(a, b):\n"
                '    """a + b, computed on a\'s device."""\n'
                "    return a + b\n"
            ),
        },
        "lost": {"ex11_devices_check": 1},
    },
    "elementwise_matmul": {
        "description": "the source tutorial's slip: x * y (elementwise) where the name says matmul",
        "answers": {
            "ex16_matmul_relu_add": (
                "def matmul_relu_add(x, y):\n"
                '    """relu(x @ y) + x."""\n'
                "    return jax.nn.relu(x * y) + x\n"
            ),
        },
        "lost": {"ex16_matmul_relu_add_check": 2},
    },
    "item_forgotten": {
        "description": "returns the 0-d jax.Array from x.sum() where a Python float was asked for",
        "answers": {
            "ex17_summary": (
                "def summary(x):\n"
                '    """(sum of x as a Python float, x as a NumPy array)."""\n'
                "    return x.sum(), np.asarray(x)\n"
            ),
        },
        "lost": {"ex17_summary_check": 1},
    },
    "no_detach": {
        "description": "converts without .detach(): a tensor that requires grad raises (RuntimeError from"
        " .numpy(), BufferError from DLPack), which the exercise text says the input may be (issue 13.1)",
        "answers": {
            "ex02_copy_to_jax": (
                "def copy_to_jax(x):\n"
                "    return jnp.asarray(x)  # no .detach()\n"
            ),
            "ex03_dlpack": (
                "def torch_to_jax(t):\n"
                '    """A CPU torch tensor -> jax.Array through DLPack."""\n'
                "    return jax.dlpack.from_dlpack(t)\n"
                "\n"
                "\n"
                "def jax_to_torch(a):\n"
                '    """A jax.Array -> torch.Tensor through DLPack."""\n'
                "    return torch.from_dlpack(a)\n"
            ),
        },
        "lost": {"ex02_copy_to_jax_check": 1, "ex03_dlpack_check": 1},
    },
    "x64_flag_inside": {
        "description": "flips the global x64 flag inside the function: the sum is right, but the flag leaks"
        " into the rest of the program (issue 13.2)",
        "answers": {
            "ex05_exact_sum": (
                "def exact_sum(values):\n"
                '    """Exact sum of an int64 NumPy array, as an int64 jax.Array."""\n'
                '    jax.config.update("jax_enable_x64", True)\n'
                "    return jnp.asarray(values).sum()\n"
            ),
        },
        "lost": {"ex05_exact_sum_check": 2},
        "alone": True,  # x64 stays on for every later cell of the notebook
    },
    "reused_key_reversed": {
        "description": "one draw from the key, the second the same numbers reversed (issue 13.3)",
        "answers": {
            "ex06_two_draws": (
                "def two_draws(key, n):\n"
                '    """Two different N(0, 1) float32 vectors of length n, determined by key."""\n'
                "    a = jax.random.normal(key, (n,))\n"
                "    return a, a[::-1]\n"
            ),
        },
        "lost": {"ex06_two_draws_check": 1},
    },
    "cached_global_rng": {
        "description": "NumPy's global generator, cached by the key's data in a kernel global: the same key"
        " gives the same numbers within one kernel only (issue 13.17)",
        "answers": {
            "ex06_two_draws": (
                "_draws = {}\n"
                "\n"
                "\n"
                "def two_draws(key, n):\n"
                '    """Two different N(0, 1) float32 vectors of length n, determined by key."""\n'
                "    k = (tuple(np.asarray(jax.random.key_data(key)).ravel().tolist()), n)\n"
                "    if k not in _draws:\n"
                "        _draws[k] = (jnp.asarray(np.random.randn(n), dtype=jnp.float32),\n"
                "                     jnp.asarray(np.random.randn(n), dtype=jnp.float32))\n"
                "    return _draws[k]\n"
            ),
        },
        "lost": {"ex06_two_draws_check": 1},
    },
    "dlpack_zero_copy": {
        "description": "not wrong: the tutorial's from_dlpack(..., copy=False), zero-copy as on the student's"
        " own tensors (issue 13.7); full marks and no review flag",
        "answers": {
            "ex03_dlpack": (
                "def torch_to_jax(t):\n"
                "    return jax.dlpack.from_dlpack(t.detach(), copy=False)\n"
                "\n"
                "\n"
                "def jax_to_torch(a):\n"
                "    return torch.from_dlpack(a)\n"
            ),
        },
        "lost": {},
    },
    "alternative_spellings": {
        "description": "not wrong: correct answers spelled differently from the solution (jnp.array,"
        " jnp.concat, methods, segment_sum, explicit masks...); the checks judge behaviour, so nothing is lost",
        "answers": {
            "ex01_from_list": "def from_list(data):\n    return jnp.array(data)\n",
            "ex02_copy_to_jax": (
                "def copy_to_jax(x):\n"
                "    if isinstance(x, torch.Tensor):\n"
                "        return jnp.array(x.detach().numpy())\n"
                "    return jnp.array(x)\n"
            ),
            "ex03_dlpack": (
                "def torch_to_jax(t):\n"
                "    return jax.dlpack.from_dlpack(t.detach().contiguous())\n"
                "\n"
                "\n"
                "def jax_to_torch(a):\n"
                "    return torch.utils.dlpack.from_dlpack(a)\n"
            ),
            "ex04_like": (
                "def like(x, value):\n"
                "    return (jnp.zeros(x.shape, x.dtype), jnp.ones(x.shape, dtype=x.dtype),\n"
                "            jnp.full(x.shape, value, dtype=x.dtype))\n"
            ),
            "ex05_exact_sum": (
                "def exact_sum(values):\n"
                "    with jax.enable_x64():\n"
                "        total = jnp.sum(jnp.array(values, dtype=jnp.int64))\n"
                "    return total\n"
            ),
            "ex06_two_draws": (
                "def two_draws(key, n):\n"
                "    key, sub = jax.random.split(key)\n"
                "    a = jax.random.normal(sub, shape=(n,))\n"
                "    key, sub = jax.random.split(key)\n"
                "    return a, jax.random.normal(sub, shape=(n,), dtype=jnp.float32)\n"
            ),
            "ex07_step_noise": (
                "def step_noise(key, step, n):\n"
                "    step_key = jax.random.fold_in(key, step)\n"
                "    return jax.random.uniform(step_key, shape=(n,), dtype=jnp.float32, minval=0.0, maxval=1.0)\n"
            ),
            "ex08_describe": (
                "def describe(x):\n"
                "    (device,) = x.devices()\n"
                "    return dict(shape=tuple(x.shape), ndim=len(x.shape), numel=int(np.prod(x.shape)),\n"
                "                dtype=str(x.dtype), device=jax.devices().index(device))\n"
            ),
            "ex09_set_column": (
                "def set_column(x, j, value):\n"
                "    cols = jnp.arange(x.shape[1])\n"
                "    return jnp.where(cols == j % x.shape[1], jnp.asarray(value, dtype=x.dtype), x)\n"
            ),
            "ex10_scatter_add": (
                "def scatter_add(x, idx, v):\n"
                "    return x + jax.ops.segment_sum(v, idx, num_segments=x.shape[0])\n"
            ),
            "ex11_devices": (
                "def to_device(x, i):\n"
                "    return jax.device_put(x, device=jax.devices('cpu')[i])\n"
                "\n"
                "\n"
                "def add_on_first(a, b):\n"
                "    (device,) = a.devices()\n"
                "    return jnp.add(a, jax.device_put(b, device))\n"
            ),
            "ex12_index_tour": (
                "def index_tour(x, rows):\n"
                "    return x[np.array(rows)], jnp.flip(x, axis=1), x[1:x.shape[0] - 1, 1:x.shape[1] - 1]\n"
            ),
            "ex13_safe_take": (
                "def safe_take(x, idx, fill):\n"
                "    n = x.shape[0]\n"
                "    valid = (idx >= -n) & (idx < n)\n"
                "    return jnp.where(valid, x[jnp.where(valid, idx, 0)], fill)\n"
            ),
            "ex14_checked_take": (
                "def checked_take(x, idx):\n"
                "    n = len(x)\n"
                "    if int(idx.min()) < -n or int(idx.max()) >= n:\n"
                "        raise IndexError('index out of range')\n"
                "    return x.at[idx].get()\n"
            ),
            "ex15_join": "def join(xs):\n    return jnp.concat(xs, axis=1), jnp.stack(xs, axis=2)\n",
            "ex16_matmul_relu_add": (
                "def matmul_relu_add(x, y):\n    return jnp.maximum(jnp.matmul(x, y), 0) + x\n"
            ),
            "ex17_summary": "def summary(x):\n    return float(jnp.sum(x)), np.array(x)\n",
            "ex18_reduce_tour": (
                "def reduce_tour(x):\n"
                "    return (jnp.sum(x, axis=0), jnp.mean(x, axis=1)[:, None],\n"
                "            x / jnp.sum(x, axis=1)[:, jnp.newaxis])\n"
            ),
            "ex19_max_with_index": "def max_with_index(x):\n    return x.max(axis=1), x.argmax(axis=1)\n",
        },
        "lost": {},
    },
}
