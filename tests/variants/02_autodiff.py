"""Wrong-but-plausible answers to 02_autodiff, as a PyTorch user would write them, and the points each loses.

Each variant replaces the source of some answer cells (by grade_id) in the solution notebook; ``lost``
gives, per grade cell, exactly how many points the variant must lose (cells not listed lose none).
Later exercises call ``compute_loss`` and ``mlp_loss``: a variant that breaks them loses points there too.
"""

_PREDICT = (
    "def predict(x, w, b):\n"
    '    """Linear model: x @ w + b."""\n'
    "    return x @ w + b\n"
    "\n"
    "\n"
)

VARIANTS = {
    "item_in_loss": {
        "description": "logs loss.item() inside compute_loss, as in a torch loop: fine when called directly"
        " and under jax.grad, ConcretizationTypeError under jax.jit and jax.vmap (jit_loss, the per-example"
        " gradients, the scanned training loop)",
        "answers": {
            "ex01_linear_model": _PREDICT + (
                "def compute_loss(w, b, x, y):\n"
                '    """Mean squared error between predict(x, w, b) and y, as a 0-d float32 array."""\n'
                "    loss = jnp.mean((predict(x, w, b) - y) ** 2)\n"
                '    print(f"loss {loss.item():.4f}")\n'
                "    return loss\n"
            ),
        },
        "lost": {"ex01_linear_model_check": 1, "ex11_per_example_check": 3, "ex14_train_check": 3},
    },
    "torch_in_loss": {
        "description": "computes the loss with F.mse_loss on tensors shared through DLPack: a torch.Tensor"
        " comes back, and no JAX transformation can see through torch (AttributeError on the tracer)",
        "answers": {
            "ex01_linear_model": _PREDICT + (
                "def compute_loss(w, b, x, y):\n"
                '    """Mean squared error between predict(x, w, b) and y, as a 0-d float32 array."""\n'
                "    pred = torch.from_dlpack(predict(x, w, b))\n"
                "    return F.mse_loss(pred, torch.from_dlpack(y))\n"
            ),
        },
        "lost": {
            "ex01_linear_model_check": 2,
            "ex02_grad_check": 3,
            "ex03_input_grad_check": 2,
            "ex11_per_example_check": 3,
            "ex13_grad_check_check": 2,
            "ex14_train_check": 3,
        },
    },
    "forgotten_argnums": {
        "description": "calls jax.grad / value_and_grad without argnums: only dL/dw comes back, where (dw, db)"
        " or dL/dx was asked for",
        "answers": {
            "ex02_grad": (
                "def grad_of_loss(w, b, x, y):\n"
                '    """(dw, db): gradients of compute_loss with respect to w and b."""\n'
                "    return jax.grad(compute_loss)(w, b, x, y)\n"
                "\n"
                "\n"
                "def loss_and_grads(w, b, x, y):\n"
                '    """(loss, (dw, db)) from one evaluation of compute_loss."""\n'
                "    return jax.value_and_grad(compute_loss)(w, b, x, y)\n"
            ),
            "ex03_input_grad": (
                "def input_grad(w, b, x, y):\n"
                '    """Gradient of compute_loss with respect to x."""\n'
                "    return jax.grad(compute_loss)(w, b, x, y)\n"
            ),
        },
        "lost": {"ex02_grad_check": 2, "ex03_input_grad_check": 2},
    },
    "backward_habit": {
        "description": "calls .backward() on the loss and reads .grad, as in torch: AttributeError",
        "answers": {
            "ex02_grad": (
                "def grad_of_loss(w, b, x, y):\n"
                '    """(dw, db): gradients of compute_loss with respect to w and b."""\n'
                "    loss = compute_loss(w, b, x, y)\n"
                "    loss.backward()\n"
                "    return w.grad, b.grad\n"
                "\n"
                "\n"
                "def loss_and_grads(w, b, x, y):\n"
                '    """(loss, (dw, db)) from one evaluation of compute_loss."""\n'
                "    return jax.value_and_grad(compute_loss, argnums=(0, 1))(w, b, x, y)\n"
            ),
        },
        "lost": {"ex02_grad_check": 1},
    },
    "has_aux_forgotten": {
        "description": "differentiates a function returning (loss, aux) without has_aux=True: TypeError,"
        " gradient only defined for scalar-output functions",
        "answers": {
            "ex04_has_aux": (
                "def xent_loss(w, b, x, labels):\n"
                "    logits = predict(x, w, b)\n"
                "    log_probs = jax.nn.log_softmax(logits, axis=-1)\n"
                "    loss = -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))\n"
                "    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)\n"
                '    return loss, {"logits": logits, "accuracy": accuracy}\n'
                "\n"
                "\n"
                "def xent_grads(w, b, x, labels):\n"
                "    return jax.value_and_grad(xent_loss, argnums=(0, 1))(w, b, x, labels)\n"
            ),
        },
        "lost": {"ex04_has_aux_check": 1},
    },
    "grads_as_flat_tuple": {
        "description": "returns the gradients as a flat tuple, like [p.grad for p in model.parameters()],"
        " instead of the params' nested dict",
        "answers": {
            "ex05_mlp_grads": (
                "def mlp_loss(params, x, y):\n"
                "    h = x\n"
                '    for layer in params["hidden"]:\n'
                '        h = jax.nn.relu(h @ layer["w"] + layer["b"])\n'
                '    return jnp.mean((h @ params["out"]["w"] + params["out"]["b"] - y) ** 2)\n'
                "\n"
                "\n"
                "def mlp_grads(params, x, y):\n"
                "    grads = jax.grad(mlp_loss)(params, x, y)\n"
                "    return tuple(jax.tree.leaves(grads))   # like [p.grad for p in model.parameters()]\n"
            ),
        },
        "lost": {"ex05_mlp_grads_check": 2},
    },
    "loop_over_leaves": {
        "description": "updates with a Python loop over the leaves, as over model.parameters(): a flat"
        " list comes back instead of the params' structure",
        "answers": {
            "ex06_sgd_update": (
                "def sgd_update(params, grads, lr):\n"
                "    return [p - lr * g for p, g in zip(jax.tree.leaves(params), jax.tree.leaves(grads))]\n"
            ),
        },
        "lost": {"ex06_sgd_update_check": 2},
    },
    "last_microbatch_only": {
        "description": "calls jax.grad once per micro-batch expecting the results to accumulate as .grad"
        " does; only the last micro-batch's gradients are kept",
        "answers": {
            "ex07_accumulate": (
                "def accumulate_grads(params, xs, ys):\n"
                "    for x, y in zip(xs, ys):\n"
                "        grads = jax.grad(mlp_loss)(params, x, y)   # like loss.backward() per micro-batch\n"
                "    return grads\n"
                "\n"
                "\n"
                "def global_norm(tree):\n"
                "    return jnp.sqrt(sum(jnp.sum(leaf ** 2) for leaf in jax.tree.leaves(tree)))\n"
            ),
        },
        "lost": {"ex07_accumulate_check": 2},
    },
    "detach_habit": {
        "description": "writes torch's .detach() on a jax.Array: AttributeError",
        "answers": {
            "ex08_stop_gradient": (
                "def round_ste(x):\n"
                "    return x + (jnp.round(x) - x).detach()\n"
            ),
        },
        "lost": {"ex08_stop_gradient_check": 2},
    },
    "no_stop_gradient": {
        "description": "rounds without the straight-through trick: right values, gradient zero",
        "answers": {
            "ex08_stop_gradient": "def round_ste(x):\n    return jnp.round(x)\n",
        },
        "lost": {"ex08_stop_gradient_check": 1},
    },
    "grad_of_non_scalar": {
        "description": "applies jax.grad to functions with non-scalar outputs, where torch would want"
        " backward(gradient=v): TypeError (a vjp and a Hessian written as grad(grad(...)))",
        "answers": {
            "ex09_vjp": (
                "def layer_vjp(w, x, v):\n"
                "    out = jnp.tanh(x @ w)\n"
                "    w_bar = jax.grad(lambda w: jnp.tanh(x @ w))(w) * v\n"
                "    x_bar = jax.grad(lambda x: jnp.tanh(x @ w))(x) * v\n"
                "    return out, (w_bar, x_bar)\n"
            ),
            "ex12_jacobians": (
                "def layer_jacobian(a, x):\n"
                "    return jax.jacrev(lambda x: jnp.tanh(a @ x))(x)\n"
                "\n"
                "\n"
                "def lse_hessian(a, x):\n"
                "    return jax.grad(jax.grad(lambda x: jax.nn.logsumexp(a @ x)))(x)\n"
            ),
        },
        "lost": {"ex09_vjp_check": 2, "ex12_jacobians_check": 1},
    },
    "vjp_summed_output": {
        "description": "differentiates out.sum() instead of weighting the output with v: backward()"
        " with gradient=ones",
        "answers": {
            "ex09_vjp": (
                "def layer_vjp(w, x, v):\n"
                "    f = lambda w, x: jnp.tanh(x @ w)\n"
                "    grads = jax.grad(lambda w, x: jnp.sum(f(w, x)), argnums=(0, 1))(w, x)\n"
                "    return f(w, x), grads\n"
            ),
        },
        "lost": {"ex09_vjp_check": 2},
    },
    "int_inputs": {
        "description": "differentiates at the integer inputs as given: TypeError, grad requires real-"
        " or complex-valued inputs",
        "answers": {
            "ex10_int_inputs": (
                "def slopes(xs):\n"
                "    return jax.grad(lambda x: jnp.sum(x * jnp.sin(x)))(xs)\n"
            ),
        },
        "lost": {"ex10_int_inputs_check": 2},
    },
    "allow_int_float0": {
        "description": "follows the error message to allow_int=True: the result is float0, no numbers",
        "answers": {
            "ex10_int_inputs": (
                "def slopes(xs):\n"
                "    return jax.grad(lambda x: jnp.sum(x * jnp.sin(x)), allow_int=True)(xs)\n"
            ),
        },
        "lost": {"ex10_int_inputs_check": 2},
    },
    "vmap_without_in_axes": {
        "description": "vmaps the gradient over every argument, params included: ValueError (inconsistent"
        " sizes), where torch.func wants in_dims=(None, None, 0, 0)",
        "answers": {
            "ex11_per_example": (
                "def per_example_grads(w, b, x, y):\n"
                "    return jax.vmap(jax.grad(compute_loss, argnums=(0, 1)))(w, b, x, y)\n"
            ),
        },
        "lost": {"ex11_per_example_check": 3},
    },
    "batch_gradient": {
        "description": "returns the batch gradient where one gradient per example was asked for",
        "answers": {
            "ex11_per_example": (
                "def per_example_grads(w, b, x, y):\n"
                "    return jax.grad(compute_loss, argnums=(0, 1))(w, b, x, y)\n"
            ),
        },
        "lost": {"ex11_per_example_check": 3},
    },
    "finite_differences_in_float32": {
        "description": "does the gradient check in float32, without the x64 scope",
        "answers": {
            "ex13_grad_check": (
                "def gradient_check(w, b, x, y, dw, db, eps):\n"
                "    up = compute_loss(w + eps * dw, b + eps * db, x, y)\n"
                "    down = compute_loss(w - eps * dw, b - eps * db, x, y)\n"
                "    gw, gb = jax.grad(compute_loss, argnums=(0, 1))(w, b, x, y)\n"
                "    return (up - down) / (2 * eps), jnp.sum(gw * dw) + jnp.sum(gb * db)\n"
            ),
        },
        "lost": {"ex13_grad_check_check": 2},
    },
    "update_discarded": {
        "description": "computes the update and drops it, as if it changed the params in place like"
        " optimizer.step(): the params never move, the loss never falls",
        "answers": {
            "ex14_train": (
                "def train(params, x, y, lr, steps):\n"
                "    losses = []\n"
                "    for _ in range(steps):\n"
                '        loss, grads = jax.value_and_grad(lambda p: compute_loss(p["w"], p["b"], x, y))(params)\n'
                "        jax.tree.map(lambda p, g: p - lr * g, params, grads)   # like optimizer.step()\n"
                "        losses.append(loss)\n"
                "    return params, jnp.stack(losses)\n"
            ),
        },
        "lost": {"ex14_train_check": 3},
    },
    "gradients_never_zeroed": {
        "description": "keeps a running sum of the gradients across steps, as torch's .grad does when"
        " zero_grad() is forgotten",
        "answers": {
            "ex14_train": (
                "def train(params, x, y, lr, steps):\n"
                "    total = jax.tree.map(jnp.zeros_like, params)\n"
                "    losses = []\n"
                "    for _ in range(steps):\n"
                '        loss, grads = jax.value_and_grad(lambda p: compute_loss(p["w"], p["b"], x, y))(params)\n'
                "        total = jax.tree.map(jnp.add, total, grads)\n"
                "        params = jax.tree.map(lambda p, g: p - lr * g, params, total)\n"
                "        losses.append(loss)\n"
                "    return params, jnp.stack(losses)\n"
            ),
        },
        "lost": {"ex14_train_check": 3},
    },
    "mutates_params": {
        "description": "updates the caller's params dict in place, as torch's optimizer.step() changes the"
        " model: the returned values are right, but the params passed in are overwritten (issue 13.4)",
        "answers": {
            "ex06_sgd_update": (
                "def sgd_update(params, grads, lr):\n"
                "    def update(p, g):\n"
                "        for k in (p.keys() if isinstance(p, dict) else range(len(p))):\n"
                "            if isinstance(p[k], (dict, list)):\n"
                "                update(p[k], g[k])\n"
                "            else:\n"
                "                p[k] = p[k] - lr * g[k]\n"
                "    update(params, grads)\n"
                "    return params\n"
            ),
            "ex14_train": (
                "def train(params, x, y, lr, steps):\n"
                "    losses = []\n"
                "    for _ in range(steps):\n"
                '        loss, grads = jax.value_and_grad(lambda p: compute_loss(p["w"], p["b"], x, y))(params)\n'
                "        for k in params:\n"
                "            params[k] = params[k] - lr * grads[k]\n"
                "        losses.append(loss)\n"
                "    return params, jnp.stack(losses)\n"
            ),
        },
        "lost": {"ex06_sgd_update_check": 1, "ex14_train_check": 1},
    },
    "alternative_spellings": {
        "description": "not wrong: correct answers spelled differently from the solution (jnp.dot, grad"
        " closures, optax helpers, jvp, jacfwd, a Python loop over a jitted step...); the checks judge"
        " behaviour, so nothing is lost",
        "answers": {
            "ex01_linear_model": (
                "def predict(x, w, b):\n"
                "    return jnp.dot(x, w) + b\n"
                "\n"
                "\n"
                "def compute_loss(w, b, x, y):\n"
                "    return jnp.square(y - predict(x, w, b)).mean()\n"
            ),
            "ex02_grad": (
                "_grad_wb = jax.grad(compute_loss, argnums=(0, 1))\n"
                "\n"
                "\n"
                "def grad_of_loss(w, b, x, y):\n"
                "    dw, db = _grad_wb(w, b, x, y)\n"
                "    return dw, db\n"
                "\n"
                "\n"
                "def loss_and_grads(w, b, x, y):\n"
                "    loss, grads = jax.value_and_grad(lambda w, b: compute_loss(w, b, x, y), argnums=(0, 1))(w, b)\n"
                "    return loss, tuple(grads)\n"
            ),
            "ex03_input_grad": (
                "def input_grad(w, b, x, y):\n"
                "    return jax.grad(lambda inputs: compute_loss(w, b, inputs, y))(x)\n"
            ),
            "ex04_has_aux": (
                "import optax\n"
                "\n"
                "\n"
                "def xent_loss(w, b, x, labels):\n"
                "    logits = jnp.dot(x, w) + b\n"
                "    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()\n"
                "    correct = (logits.argmax(axis=1) == labels).astype(jnp.float32)\n"
                "    return loss, dict(accuracy=correct.mean(), logits=logits)\n"
                "\n"
                "\n"
                "def xent_grads(w, b, x, labels):\n"
                "    grads, aux = jax.grad(xent_loss, argnums=(0, 1), has_aux=True)(w, b, x, labels)\n"
                "    loss, _ = xent_loss(w, b, x, labels)\n"
                "    return (loss, aux), grads\n"
            ),
            "ex05_mlp_grads": (
                "def mlp_loss(params, x, y):\n"
                "    layers = params['hidden'] + [params['out']]\n"
                "    for i, layer in enumerate(layers):\n"
                "        x = x @ layer['w'] + layer['b']\n"
                "        if i < len(layers) - 1:\n"
                "            x = jnp.maximum(x, 0.0)\n"
                "    return ((x - y) ** 2).mean()\n"
                "\n"
                "\n"
                "def mlp_grads(params, x, y):\n"
                "    _, grads = jax.value_and_grad(mlp_loss)(params, x, y)\n"
                "    return grads\n"
            ),
            "ex06_sgd_update": (
                "import optax\n"
                "\n"
                "\n"
                "def sgd_update(params, grads, lr):\n"
                "    return optax.apply_updates(params, jax.tree_util.tree_map(lambda g: -lr * g, grads))\n"
            ),
            "ex07_accumulate": (
                "import optax\n"
                "\n"
                "\n"
                "def accumulate_grads(params, xs, ys):\n"
                "    stacked = jax.vmap(jax.grad(mlp_loss), in_axes=(None, 0, 0))(params, xs, ys)\n"
                "    return jax.tree.map(lambda g: g.mean(axis=0), stacked)\n"
                "\n"
                "\n"
                "def global_norm(tree):\n"
                "    return optax.global_norm(tree)\n"
            ),
            "ex08_stop_gradient": (
                "def round_ste(x):\n"
                "    rounded = jax.lax.stop_gradient(jnp.round(x))\n"
                "    return rounded + (x - jax.lax.stop_gradient(x))\n"
            ),
            "ex09_vjp": (
                "def layer_vjp(w, x, v):\n"
                "    out = jnp.tanh(x @ w)\n"
                "    bars = jax.grad(lambda w, x: jnp.vdot(jnp.tanh(x @ w), v), argnums=(0, 1))(w, x)\n"
                "    return out, bars\n"
            ),
            "ex10_int_inputs": (
                "def slopes(xs):\n"
                "    f = lambda x: x * jnp.sin(x)\n"
                "    return jnp.vectorize(jax.grad(f))(jnp.asarray(xs, dtype=float))\n"
            ),
            "ex11_per_example": (
                "def per_example_grads(w, b, x, y):\n"
                "    one = lambda xi, yi: jax.grad(compute_loss, argnums=(0, 1))(w, b, xi, yi)\n"
                "    return jax.vmap(one)(x, y)\n"
            ),
            "ex12_jacobians": (
                "def layer_jacobian(a, x):\n"
                "    return jax.jacfwd(lambda x: jnp.tanh(jnp.matmul(a, x)))(x)\n"
                "\n"
                "\n"
                "def lse_hessian(a, x):\n"
                "    return jax.jacfwd(jax.jacrev(lambda x: jax.scipy.special.logsumexp(a @ x)))(x)\n"
            ),
            "ex13_grad_check": (
                "def gradient_check(w, b, x, y, dw, db, eps):\n"
                "    with jax.enable_x64(True):\n"
                "        w, b, x, y, dw, db = (a.astype(jnp.float64) for a in (w, b, x, y, dw, db))\n"
                "        loss = lambda w, b: compute_loss(w, b, x, y)\n"
                "        fd = (loss(w + eps * dw, b + eps * db) - loss(w - eps * dw, b - eps * db)) / (2 * eps)\n"
                "        _, ad = jax.jvp(loss, (w, b), (dw, db))\n"
                "    return fd, ad\n"
            ),
            "ex14_train": (
                "def train(params, x, y, lr, steps):\n"
                "    @jax.jit\n"
                "    def step(params):\n"
                "        loss, grads = jax.value_and_grad(lambda p: compute_loss(p['w'], p['b'], x, y))(params)\n"
                "        return {k: params[k] - lr * grads[k] for k in params}, loss\n"
                "\n"
                "    losses = []\n"
                "    for _ in range(steps):\n"
                "        params, loss = step(params)\n"
                "        losses.append(loss)\n"
                "    return params, jnp.array(losses)\n"
            ),
        },
        "lost": {},
    },
}
