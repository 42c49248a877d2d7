"""Hidden checks for Part 1 of 04_training: transforms, collate, datasets and loaders (Exercise 1)."""

from pathlib import Path

import numpy as np

from pt2jax.checks import StudentArray, expect, fail, graded, load_helper, show

ref = load_helper(Path(__file__).with_name("_reference.py"))
_CACHE: dict = {}


def _data(student, rng):
    """One call of graded_data per grading (the first check's draws), shared by the checks below."""
    key = id(student)
    if key not in _CACHE:
        start = int(rng.integers(0, 300))
        batch_size = int(rng.integers(3, 7))
        got = ref.unwrap_dict(student.call("graded_data", start, batch_size, int(rng.integers(2**31))),
                              ("sizes", "train", "test"), "graded_data")
        _CACHE[key] = (start, batch_size, got)
    return _CACHE[key]


def _batch(got, split, epoch):
    batch = got[split][epoch] if isinstance(got[split], list) and len(got[split]) == 2 else None
    if not (isinstance(batch, list) and len(batch) == 2):
        fail(f"A batch of your {split} loader should be a pair (images, labels); got {show(batch)}.")
    return batch


def _affine_residual(images: np.ndarray, raw: np.ndarray) -> float:
    """How far `images` are from a per-channel affine function of `raw` (relative): ~0 when they are
    the same pictures, whatever the normalization."""
    if images.shape != raw.shape:
        return np.inf
    worst = 0.0
    for c in range(3):
        a, b = images[..., c].ravel(), raw[..., c].astype(np.float64).ravel()
        design = np.stack([b, np.ones_like(b)], 1)
        coef, *_ = np.linalg.lstsq(design, a, rcond=None)
        worst = max(worst, float(np.abs(design @ coef - a).max() / (np.abs(a).max() + 1e-12)))
    return worst


@graded("ex01_data_check", points=2)
def test_batches_are_nhwc_float32_numpy_with_integer_labels(student, rng):
    """A batch is (images, labels): a NumPy float32 array (N, 32, 32, 3) and NumPy integer labels."""
    _, batch_size, got = _data(student, rng)
    images, labels = _batch(got, "test", 0)
    if not isinstance(images, StudentArray):
        fail(f"The images of a batch should be a NumPy array; got {show(images)}.")
    if images.kind != "numpy.ndarray":
        fail(f"The images of a batch are a {images.kind}; the collate function should return NumPy arrays"
             " (np.stack, .transpose), converted to JAX only in the training process.",
             None)
    if images.shape == (batch_size, 3, 32, 32):
        fail(f"The images have shape {images.shape}: channels first, torch's layout. nnx.Conv wants"
             " (N, H, W, C): transpose in the collate function.", "nchw_nhwc")
    expect(images.shape == (batch_size, 32, 32, 3),
           f"A batch of {batch_size} images should have shape ({batch_size}, 32, 32, 3); got {images.shape}.")
    expect(images.dtype == "float32", f"The images are {images.dtype}; they should be float32."
           + (" The tutorial's NumPy normalization gives float64: keep every step in float32 (v2.ToDtype,"
              " np.float32 constants)." if images.dtype == "float64" else ""))
    if not (isinstance(labels, StudentArray) and labels.kind == "numpy.ndarray"):
        fail(f"The labels of a batch should be a NumPy integer array; got {show(labels)}.")
    expect(labels.value.dtype.kind in "iu" and labels.shape == (batch_size,),
           f"The labels should be integers of shape ({batch_size},); got {labels.dtype} {labels.shape}.")


@graded("ex01_data_check", points=1)
def test_test_loader_reads_the_test_files(student, rng):
    """The test set is built from the test file (train=False) and holds its labels; the sizes are right."""
    start, batch_size, got = _data(student, rng)
    train_x, _, test_x, test_y = ref.standin()
    images, labels = _batch(got, "test", 0)
    x = ref.array_of(images, "the test images")
    expect(got["sizes"] == [len(train_x), len(test_x)],
           f"Your datasets hold {got['sizes']} images; the stand-in's training and test files hold"
           f" {[len(train_x), len(test_x)]}.")
    want = test_x[start:start + batch_size]
    if x.ndim == 4 and x.shape[1] == 3:
        x = x.transpose(0, 2, 3, 1)
    if _affine_residual(x, want) > 1e-3:
        if _affine_residual(x, train_x[start:start + batch_size]) < 1e-3:
            fail("Your test loader yields training images: the test set must be built with train=False"
                 " (the course tutorial's test set uses train=True, so its accuracy measures nothing).")
        fail(f"The test loader's images {start}..{start + batch_size - 1} are not the test file's images"
             " (in order, without augmentation).")
    y = labels.value if isinstance(labels, StudentArray) else None
    expect(y is not None and y.shape == want.shape[:1] and bool(np.all(y == test_y[start:start + batch_size])),
           "The test labels do not match the test file's labels.")


@graded("ex01_data_check", points=1)
def test_normalization_per_channel(student, rng):
    """Test images are x / 255 normalized with CIFAR-10's mean and std per channel (R, G, B), in float32."""
    start, batch_size, got = _data(student, rng)
    images, _ = _batch(got, "test", 0)
    x = ref.array_of(images, "the test images")
    train_x, _, test_x, _ = ref.standin()
    raw = test_x[start:start + batch_size]
    if x.shape == raw.shape and _affine_residual(x, raw) > 1e-3:
        raw = train_x[start:start + batch_size]  # a test set read from the training files: costs another point
    want = ref.normalize(raw).astype(np.float64)
    if x.shape != want.shape:
        fail(f"The test images have shape {x.shape}, not {want.shape}: fix the layout first.", "nchw_nhwc")
    err = np.abs(x - want)
    if float(err.max()) <= 1e-4:
        return
    means = x.reshape(-1, 3).mean(0)
    raw_means = want.reshape(-1, 3).mean(0)
    fail(f"The test images are not normalized as specified (max abs error {float(err.max()):.3g}): expected"
         f" (x / 255 - mean) / std per channel with mean {tuple(ref.CIFAR_MEAN.round(4))} and std"
         f" {tuple(ref.CIFAR_STD.round(4))}, after v2.ToDtype(torch.float32, scale=True). Channel means: got"
         f" {means.round(3).tolist()}, expected {raw_means.round(3).tolist()}.")


@graded("ex01_data_check", points=1)
def test_augmentation_for_training_only(student, rng):
    """Training images are pad-4 random crops, flipped at random, and differ between epochs; test images
    are never augmented."""
    start, batch_size, got = _data(student, rng)
    train_x = ref.standin()[0]
    epochs = [ref.array_of(_batch(got, "train", e)[0], "the training images") for e in (0, 1)]
    tests = [ref.array_of(_batch(got, "test", e)[0], "the test images") for e in (0, 1)]
    expect(bool(np.array_equal(tests[0], tests[1])), "Two passes over the test loader give different images: the"
           " test transform must not be random (no crop, no flip).")
    plain = ref.normalize(train_x[start:start + batch_size]).astype(np.float64)
    for e, x in enumerate(epochs):
        if x.shape != plain.shape:
            fail(f"The training images have shape {x.shape}, not {plain.shape}.", "nchw_nhwc")
        for i in range(batch_size):
            options = ref.augmentations(train_x[start + i]).astype(np.float64)
            best = float(np.abs(options - x[i]).reshape(len(options), -1).max(1).min())
            if best > 1e-4:
                fail(f"Training image {start + i} (epoch {e + 1}) is not a pad-4 crop (flipped or not) of the"
                     " normalized training image: v2.RandomCrop(32, padding=4) and v2.RandomHorizontalFlip()"
                     " go before ToDtype and Normalize.")
    moved = any(not np.array_equal(x, plain) for x in epochs) and not np.array_equal(epochs[0], epochs[1])
    expect(bool(moved), "The training images are the same in both epochs and not augmented: the training"
           " transform should crop and flip at random (make_transforms(True)).")


@graded("ex01_data_check", points=1)
def test_workers_are_spawned(student, rng):
    """With workers, the loader starts them with "spawn" or "forkserver" (never fork a JAX process), and
    they yield the same batches."""
    start, batch_size = int(rng.integers(0, 300)), 2
    got = ref.unwrap_dict(student.call("graded_workers", start, batch_size), ("start_method", "batch"),
                          "graded_workers")
    method = got["start_method"]
    expect(method in ("spawn", "forkserver"),
           f"Your loader starts its workers with {method!r}. Forking a process that runs JAX's threads can"
           " deadlock (JAX warns about it): pass multiprocessing_context=\"spawn\" when num_workers > 0.")
    images = got["batch"][0] if isinstance(got["batch"], list) and got["batch"] else None
    train_x, _, test_x, _ = ref.standin()
    if images is None and "error" in got:
        return  # the grading sandbox could not start the worker (got["error"]): the settings are what counts
    same = [isinstance(images, StudentArray) and images.shape == (batch_size, 32, 32, 3)
            and bool(np.allclose(images.value, ref.normalize(raw[start:start + batch_size]), atol=1e-4))
            for raw in (test_x, train_x)]
    expect(any(same), "The loader with a worker process (and pt2jax_cifar.numpy_collate) does not yield normalized"
           " NHWC images: make_transforms should end with v2.ToDtype(torch.float32, scale=True) and v2.Normalize.")
