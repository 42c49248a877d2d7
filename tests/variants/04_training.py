"""Wrong-but-plausible answers to 04_training, as a PyTorch user would write them, and the points each loses.

Each variant replaces the source of some answer cells (by grade_id) in the solution notebook; ``lost``
gives, per grade cell, exactly how many points the variant must lose (cells not listed lose none).
``alternative_spellings`` is a correct answer written differently from the solution (an Optax chain
instead of optax.adamw, a hand-written schedule, a mask by path, nnx.grad, a .npz checkpoint,
"forkserver"): it must lose nothing, so the checks test behaviour, not spelling.
"""

_DATA = '''CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def make_transforms(train):
    augment = [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()] if {augment} else []
    return v2.Compose([v2.ToImage(), *augment{tail}])


def numpy_collate(samples):
{collate}


def make_datasets(root, dataset_class):
    return (dataset_class(root, train=True, transform=make_transforms(True)),
            dataset_class(root, train={test_train}, transform=make_transforms(False)))


def make_loader(dataset, batch_size, *, shuffle, num_workers=0, collate_fn=numpy_collate, seed=0):
    workers = {workers} if num_workers > 0 else {{}}
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      collate_fn=collate_fn, generator=torch.Generator().manual_seed(seed), **workers)
'''
_TAIL = ", v2.ToDtype(torch.float32, scale=True), v2.Normalize(CIFAR_MEAN, CIFAR_STD)"
_COLLATE = '''    images = np.stack([np.asarray(image, dtype=np.float32) for image, _ in samples])
    return images.transpose(0, 2, 3, 1), np.array([int(label) for _, label in samples], dtype=np.int32)'''
_SPAWN = '{"multiprocessing_context": "spawn", "persistent_workers": True}'


def _data(augment="train", tail=_TAIL, collate=_COLLATE, test_train="False", workers=_SPAWN):
    return _DATA.format(augment=augment, tail=tail, collate=collate, test_train=test_train, workers=workers)


_OPTIMIZER = '''def make_schedule(peak_lr, warmup_steps, total_steps):
    return optax.warmup_cosine_decay_schedule(init_value=0.1 * peak_lr, peak_value=peak_lr,
                                              warmup_steps=warmup_steps, decay_steps={decay_steps}, end_value=0.0)


def decay_mask(params):
    return jax.tree.map(lambda p: {mask}, params)


def make_optimizer(model, peak_lr, warmup_steps, total_steps, weight_decay):
    tx = optax.adamw(learning_rate=make_schedule(peak_lr, warmup_steps, total_steps), b1=0.9, b2=0.999,
                     eps=1e-8, weight_decay=weight_decay, mask=decay_mask)
    return nnx.Optimizer(model, tx, wrt=nnx.Param)
'''

_STEP = '''def make_metrics():
    return nnx.MultiMetric(accuracy=nnx.metrics.Accuracy(), loss=nnx.metrics.Average("loss"))


def loss_fn(model, images, labels):
    logits = model(images)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    return losses.{reduce}(), (logits, losses)


@nnx.jit
def train_step(model, optimizer, metrics, images, labels):
    (loss, (logits, losses)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, images, labels)
    optimizer.update(model, grads)
    metrics.update(loss={metric_loss}, logits=logits, labels=labels)
    return loss


@nnx.jit
def eval_step(model, metrics, images, labels):
    loss, (logits, losses) = loss_fn(model, images, labels)
    metrics.update(loss={metric_loss}, logits=logits, labels=labels)
'''

_RECOMPILING_STEP = _STEP.format(reduce="mean", metric_loss="losses").replace('''@nnx.jit
def train_step(model, optimizer, metrics, images, labels):
    (loss, (logits, losses)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, images, labels)
    optimizer.update(model, grads)
    metrics.update(loss=losses, logits=logits, labels=labels)
    return loss
''', '''def train_step(model, optimizer, metrics, images, labels):
    @nnx.jit  # a new jitted function at every call, like torch.compile(model) inside the loop
    def step(model, optimizer, metrics, images, labels):
        (loss, (logits, losses)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, images, labels)
        optimizer.update(model, grads)
        metrics.update(loss=losses, logits=logits, labels=labels)
        return loss
    return step(model, optimizer, metrics, images, labels)
''')

_CHECKPOINT_PARAMS_ONLY = '''def save_checkpoint(path, model, optimizer):
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path, nnx.state(model))        # like torch.save(model.state_dict())
    checkpointer.wait_until_finished()


def restore_checkpoint(path, model, optimizer):
    nnx.update(model, ocp.StandardCheckpointer().restore(path, nnx.state(model)))
'''

_ALTERNATIVE = {
    "ex01_data": '''CIFAR_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR_STD = [0.2470, 0.2435, 0.2616]


def make_transforms(train):
    steps = [v2.ToImage()]
    if train:
        steps += [v2.RandomCrop(size=(32, 32), padding=[4, 4, 4, 4], padding_mode="constant"),
                  v2.RandomHorizontalFlip(p=0.5)]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=CIFAR_MEAN, std=CIFAR_STD)]
    return v2.Compose(steps)


def numpy_collate(samples):
    images = np.moveaxis(np.stack([image.numpy() for image, _ in samples]), 1, -1)
    labels = np.fromiter((label for _, label in samples), dtype=np.int64)
    return images.astype(np.float32), labels


def make_datasets(root, dataset_class):
    train_set = dataset_class(root=root, train=True, transform=make_transforms(train=True))
    test_set = dataset_class(root=root, train=False, transform=make_transforms(train=False))
    return train_set, test_set


def make_loader(dataset, batch_size, *, shuffle, num_workers=0, collate_fn=numpy_collate, seed=0):
    generator = torch.Generator()
    generator.manual_seed(seed)
    if num_workers == 0:
        return DataLoader(dataset, batch_size, shuffle=shuffle, collate_fn=collate_fn, generator=generator)
    return DataLoader(dataset, batch_size, shuffle=shuffle, collate_fn=collate_fn, generator=generator,
                      num_workers=num_workers, multiprocessing_context="forkserver", persistent_workers=True)
''',
    "ex02_optimizer": '''def make_schedule(peak_lr, warmup_steps, total_steps):
    def schedule(count):
        warm = peak_lr * (0.1 + 0.9 * count / warmup_steps)
        progress = jnp.clip((count - warmup_steps) / (total_steps - warmup_steps), 0.0, 1.0)
        return jnp.where(count < warmup_steps, warm, peak_lr * 0.5 * (1 + jnp.cos(jnp.pi * progress)))
    return schedule


def decay_mask(params):
    return jax.tree_util.tree_map_with_path(lambda path, _: "kernel" in jax.tree_util.keystr(path), params)


def make_optimizer(model, peak_lr, warmup_steps, total_steps, weight_decay):
    tx = optax.chain(
        optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
        optax.add_decayed_weights(weight_decay, mask=decay_mask),
        optax.scale_by_learning_rate(make_schedule(peak_lr, warmup_steps, total_steps)),
    )
    return nnx.Optimizer(model, tx, wrt=nnx.Param)
''',
    "ex03_train_step": '''def make_metrics():
    return nnx.MultiMetric(loss=nnx.metrics.Average(argname="loss"), accuracy=nnx.metrics.Accuracy())


def loss_fn(model, images, labels):
    logits = model(images)
    one_hot = jax.nn.one_hot(labels, logits.shape[-1])
    per_example = -jnp.sum(one_hot * jax.nn.log_softmax(logits), axis=-1)
    return jnp.mean(per_example), {"logits": logits, "per_example": per_example}


@nnx.jit
def train_step(model, optimizer, metrics, images, labels):
    grads, aux = nnx.grad(loss_fn, has_aux=True)(model, images, labels)
    optimizer.update(model, grads)
    metrics.update(loss=aux["per_example"], logits=aux["logits"], labels=labels)
    return aux["per_example"].mean()


@nnx.jit
def eval_step(model, metrics, images, labels):
    _, aux = loss_fn(model, images, labels)
    metrics.update(loss=aux["per_example"], logits=aux["logits"], labels=labels)
''',
    "ex04_evaluate": '''def evaluate(model, metrics, batches):
    model.eval()
    metrics.reset()
    for batch in batches:
        eval_step(model, metrics, *batch)
    out = metrics.compute()
    return {"accuracy": out["accuracy"].item(), "loss": out["loss"].item()}
''',
    "ex06_checkpoint": '''def save_checkpoint(path, model, optimizer):
    arrays = {}
    for prefix, obj in (("model", model), ("optimizer", optimizer)):
        for key, var in flat_state(obj).items():
            arrays[f"{prefix}/{key}"] = np.asarray(var[...])
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def restore_checkpoint(path, model, optimizer):
    with np.load(path) as data:
        for prefix, obj in (("model", model), ("optimizer", optimizer)):
            state = nnx.state(obj)
            for key, var in nnx.to_flat_state(state):
                var[...] = jnp.asarray(data[prefix + "/" + "/".join(map(str, key))])
            nnx.update(obj, state)
''',
}

VARIANTS = {
    "test_set_from_training_files": {
        "description": "the course tutorial's test set: CIFAR10(root, train=True, ...) with the test transform",
        "answers": {"ex01_data": _data(test_train="True")},
        "lost": {"ex01_data_check": 1},
    },
    "no_augmentation": {
        "description": "no random crop or flip for training (make_transforms ignores `train`)",
        "answers": {"ex01_data": _data(augment="False")},
        "lost": {"ex01_data_check": 1},
    },
    "forked_workers": {
        "description": "num_workers > 0 with the default start method: forks a process that runs JAX's threads",
        "answers": {"ex01_data": _data(workers='{"persistent_workers": True}')},
        "lost": {"ex01_data_check": 1},
    },
    "float64_numpy_normalize": {
        "description": "the tutorial's normalization in NumPy with Python floats: right values, float64 batches"
        " (and a transform that leaves uint8 images, so the course's worker collate gets unnormalized pixels)",
        "answers": {"ex01_data": _data(tail="", collate=(
            "    images = np.stack([np.asarray(image) for image, _ in samples]).transpose(0, 2, 3, 1)\n"
            "    images = (images / 255.0 - np.array(CIFAR_MEAN)) / np.array(CIFAR_STD)\n"
            "    return images, np.array([int(label) for _, label in samples])"))},
        "lost": {"ex01_data_check": 3},
    },
    "decay_steps_after_warmup": {
        "description": "reads decay_steps as the length of the cosine part: total_steps - warmup_steps",
        "answers": {"ex02_optimizer": _OPTIMIZER.format(decay_steps="total_steps - warmup_steps", mask="p.ndim > 1")},
        "lost": {"ex02_optimizer_check": 2},
    },
    "decay_everything": {
        "description": "weight decay on every parameter, as torch.optim.AdamW(model.parameters()) does",
        "answers": {"ex02_optimizer": _OPTIMIZER.format(decay_steps="total_steps", mask="True")},
        "lost": {"ex02_optimizer_check": 2},
    },
    "average_of_batch_means": {
        "description": "feeds each batch's mean loss to nnx.metrics.Average: the average of batch means",
        "answers": {"ex03_train_step": _STEP.format(reduce="mean", metric_loss="loss")},
        "lost": {"ex04_evaluate_check": 2},
    },
    "recompiling_train_step": {
        "description": "jits a new inner function at every call of train_step: the whole step compiles again at"
        " every step (values right, the short run too slow to try)",
        "answers": {"ex03_train_step": _RECOMPILING_STEP},
        "lost": {"ex03_train_step_check": 2, "ex05_run_check": 3},
        "hints": {"ex03_train_step_check": ["recompiles"], "ex05_run_check": ["recompiles"]},
    },
    "checkpoint_model_only": {
        "description": "saves and restores the model's state only, like torch.save(model.state_dict())",
        "answers": {"ex06_checkpoint": _CHECKPOINT_PARAMS_ONLY},
        "lost": {"ex06_checkpoint_check": 4},
    },
    "alternative_spellings": {
        "description": "correct answers written differently from the solution",
        "answers": _ALTERNATIVE,
        "lost": {},
    },
}
