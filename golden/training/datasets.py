"""The two benchmarks' data: scikit-learn digits and MNIST-1D, generated offline.

digits: 8x8 images (pixels 0..16) scaled to [0, 1], a stratified split with test fraction 0.3
and `random_state=seed` (golden.train_digits' split, so its numbers reproduce).

mnist1d: Greydanus 2020, "Scaling Down Deep Learning": `mnist1d.data.make_dataset` with the
package's default `get_dataset_args()` (5,000 sequences of length 40, 4,000 train / 1,000 test,
seed 42). `make_dataset` builds it from the templates; `get_dataset` is never called, so nothing
is downloaded (its default is to fetch a pickle from GitHub). The generator seeds NumPy's global
RNG, so its state is saved and restored around the call; the arrays are cached in
`build/mnist1d.npz` (generation takes ~4 s). The split is fixed (the dataset's); the seed only
changes the training run. Inputs get a channel axis: (N, 40, 1).
"""

import pathlib

import numpy as np

__all__ = ["BENCHES", "load"]

BENCHES = ("digits", "mnist1d")
CACHE = pathlib.Path(__file__).resolve().parents[2] / "build" / "mnist1d.npz"


def digits(seed, test_fraction=0.3):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    return train_test_split(d.data / 16.0, d.target, test_size=test_fraction,
                            random_state=seed, stratify=d.target)


def _generate_mnist1d():
    from mnist1d.data import get_dataset_args, make_dataset
    state = np.random.get_state()
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(state)
    return d["x"], d["x_test"], d["y"], d["y_test"]


def mnist1d(cache=CACHE):
    """(x_train (4000, 40, 1), x_test (1000, 40, 1), y_train, y_test), cached in `cache`."""
    if cache is not None and cache.exists():
        with np.load(cache) as f:
            arrays = f["x"], f["x_test"], f["y"], f["y_test"]
    else:
        arrays = _generate_mnist1d()
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{np.random.default_rng().integers(1 << 30)}.tmp.npz")
            np.savez(tmp, x=arrays[0], x_test=arrays[1], y=arrays[2], y_test=arrays[3])
            tmp.replace(cache)  # atomic: parallel demo workers never read a half-written file
    x, x_te, y, y_te = arrays
    return x[..., None], x_te[..., None], y.astype(np.int64), y_te.astype(np.int64)


def load(bench, seed):
    if bench not in BENCHES:
        raise ValueError(f"bench must be one of {BENCHES}, got {bench!r}")
    return digits(seed) if bench == "digits" else mnist1d()
