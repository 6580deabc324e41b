"""Datasets: loading (local folder or download), subsets, splits, pixel scaling and permutations.

With ``CNNLAB_DATA`` set, :func:`load` reads ``$CNNLAB_DATA/<name>.npz`` and never touches the
network; without it, it calls ``keras.datasets.<name>.load_data()`` (what a student gets in
Colab). Arrays keep exactly the shapes and dtypes Keras returns: images ``uint8`` in
``(N, 28, 28)`` or ``(N, 32, 32, 3)`` (channels last), labels ``uint8`` in ``(N,)`` for the MNIST
family and ``(N, 1)`` for CIFAR-10.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ENV_DATA = "CNNLAB_DATA"

DATASETS = ("mnist", "fashion_mnist", "cifar10")

CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "cifar10": [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ],
}


class DataNotFoundError(FileNotFoundError):
    """A dataset could be found neither in ``$CNNLAB_DATA`` nor downloaded."""


def data_dir() -> Path | None:
    """The folder named by ``$CNNLAB_DATA``, as an absolute path, or ``None`` when unset.

    A relative value is taken relative to the directory the command was started from (``$PWD``,
    which notebook kernels inherit even though they run inside the notebook's folder), falling
    back to the current directory.
    """
    value = os.environ.get(ENV_DATA, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    bases = [os.environ.get("PWD"), os.getcwd()]
    for base in bases:
        if base and (Path(base) / path).is_dir():
            return (Path(base) / path).resolve()
    return (Path(os.getcwd()) / path).resolve()


def local_file(filename: str) -> Path | None:
    """``$CNNLAB_DATA/filename`` if ``CNNLAB_DATA`` is set (raises if the file is missing)."""
    folder = data_dir()
    if folder is None:
        return None
    path = folder / filename
    if not path.is_file():
        raise DataNotFoundError(
            f"{ENV_DATA} is set to {os.environ[ENV_DATA]!r} but {path} does not exist: "
            f"put {filename} there or point {ENV_DATA} at the folder that holds it"
        )
    return path


def load(name: str):
    """``((x_train, y_train), (x_test, y_test))`` exactly as ``keras.datasets.<name>.load_data()``."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: known datasets are {', '.join(DATASETS)}")
    filename = f"{name}.npz"
    path = local_file(filename)
    if path is not None:
        with np.load(path) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    import keras

    try:
        return getattr(keras.datasets, name).load_data()
    except Exception as error:  # no network, blocked host, corrupt cache ...
        raise DataNotFoundError(
            f"could not download {name} ({type(error).__name__}: {error}). Without internet, "
            f"set {ENV_DATA} to a folder holding {filename} (the arrays x_train, y_train, "
            f"x_test, y_test)"
        ) from error


def scale_pixels(x: np.ndarray) -> np.ndarray:
    """``uint8`` pixels in [0, 255] to ``float32`` in [0, 1]."""
    if x.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels in [0, 255], got dtype {x.dtype}")
    return x.astype("float32") / 255.0


def load_scaled(name: str, train: int | None = None, test: int | None = None, channel_axis: bool = False,
                seed: int = 0):
    """``load(name)`` with pixels scaled to [0, 1] (:func:`scale_pixels`), flat labels, and :func:`sample`'s
    ``train``/``test`` random examples of each split (all when None). ``channel_axis=True`` gives grey images
    a channel axis, 28×28 -> 28×28×1, as a convolution layer expects. Returns ``((x, y), (x_test, y_test))``."""
    def part(n, x, y):
        x = scale_pixels(x)
        return sample(n, x[..., np.newaxis] if channel_axis and x.ndim == 3 else x, np.ravel(y), seed=seed)

    (x_train, y_train), (x_test, y_test) = load(name)
    return part(train, x_train, y_train), part(test, x_test, y_test)


def sample(n: int | None, *arrays: np.ndarray, seed: int = 0):
    """The same ``n`` random rows of every array (all rows, in order, when ``n`` is None or too big).

    Used by the profiles to take a data subset; the rows keep their original order.
    """
    if not arrays:
        raise ValueError("sample() needs at least one array")
    size = len(arrays[0])
    if any(len(a) != size for a in arrays):
        raise ValueError(f"arrays differ in length: {[len(a) for a in arrays]}")
    if n is None or n >= size:
        picked = arrays
    else:
        rows = np.sort(np.random.default_rng(seed).choice(size, size=n, replace=False))
        picked = tuple(a[rows] for a in arrays)
    return picked if len(picked) > 1 else picked[0]


def holdout(x: np.ndarray, y: np.ndarray, n_validation: int, seed: int = 0):
    """Split off ``n_validation`` random examples: ``((x_train, y_train), (x_val, y_val))``."""
    if not 0 < n_validation < len(x):
        raise ValueError(f"n_validation must be between 1 and {len(x) - 1}, got {n_validation}")
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_validation], order[n_validation:]
    return (x[train], y[train]), (x[val], y[val])


def split_indices(n: int, fractions=(0.8, 0.1, 0.1), seed: int = 1):
    """Shuffle ``range(n)`` and cut it into consecutive parts of the given ``fractions``.

    The shuffle is ``np.random.seed(seed)`` followed by ``np.random.permutation(n)``, reproduced
    with a private ``RandomState`` so the global NumPy state is left alone.
    """
    if len(fractions) != 3 or not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    order = np.random.RandomState(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    return np.split(order, [n_train, n_train + n_val])


def split_pool(name: str, fractions=(0.8, 0.1, 0.1), seed: int = 1, sizes=None):
    """Pool a dataset's training and test images, shuffle, and split them by ``fractions``.

    Returns ``{"train": (x, y), "validation": (x, y), "test": (x, y)}`` with labels flattened to
    shape ``(N,)``: CIFAR-10 gives 48,000/6,000/6,000 and Fashion-MNIST 56,000/7,000/7,000.
    ``sizes=(n_train, n_validation)`` keeps that many random rows of those two (:func:`sample`, seed 0).
    """
    (x_train, y_train), (x_test, y_test) = load(name)
    x = np.concatenate([x_train, x_test])
    y = np.concatenate([y_train.reshape(-1), y_test.reshape(-1)])
    parts = split_indices(len(x), fractions, seed)
    split = {part: (x[idx], y[idx]) for part, idx in zip(("train", "validation", "test"), parts)}
    for part, n in zip(("train", "validation"), sizes or ()):
        split[part] = sample(n, *split[part], seed=0)
    return split


# --- pixel permutations -------------------------------------------------------------------------


def _positions(image_shape) -> int:
    if len(image_shape) not in (2, 3):
        raise ValueError(f"expected an image shape (H, W) or (H, W, C), got {tuple(image_shape)}")
    return int(image_shape[0] * image_shape[1])


def pixel_permutation(image_shape, seed: int = 0) -> np.ndarray:
    """A random permutation of the H·W pixel positions of ``image_shape`` images (a colour pixel moves whole)."""
    return np.random.default_rng(seed).permutation(_positions(image_shape))


def inverse_permutation(permutation: np.ndarray) -> np.ndarray:
    """The permutation that undoes ``permutation``."""
    return np.argsort(permutation)


def permute_pixels(x: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Apply one pixel permutation to every image in ``x`` (shape ``(N, H, W)`` or ``(N, H, W, C)``): output
    pixel ``i`` (in row-major order) is input pixel ``permutation[i]``."""
    n_pos = _positions(x.shape[1:])
    permutation = np.asarray(permutation)
    if permutation.shape != (n_pos,) or not np.array_equal(np.sort(permutation), np.arange(n_pos)):
        raise ValueError(f"expected a permutation of the {n_pos} pixel positions of {x.shape[1:]} images, "
                         f"got an array of shape {permutation.shape}")
    flat = x.reshape(len(x), n_pos, -1)
    return flat[:, permutation, :].reshape(x.shape)


def permute_each_image(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Shuffle the pixel positions of every image with its own fresh random permutation."""
    n_pos = _positions(x.shape[1:])
    order = np.random.default_rng(seed).random((len(x), n_pos)).argsort(axis=1)
    flat = x.reshape(len(x), n_pos, -1)
    return np.take_along_axis(flat, order[:, :, None], axis=1).reshape(x.shape)


# --- MovieLens ratings (assignment 5) ------------------------------------------------------------

MOVIELENS_FILE = "ml-latest-small.zip"
MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
MOVIELENS_RATINGS = "ml-latest-small/ratings.csv"


def load_movielens():
    """MovieLens latest-small ratings as a DataFrame (``userId, movieId, rating, timestamp``).

    Read from ``$CNNLAB_DATA/ml-latest-small.zip`` when ``CNNLAB_DATA`` is set; otherwise the
    GroupLens zip is downloaded once into the Keras cache (``~/.keras/datasets``). 100,836 ratings
    from 0.5 to 5 stars of 9,724 movies by 610 users.
    """
    import zipfile

    import pandas as pd

    path = local_file(MOVIELENS_FILE)
    if path is None:
        import keras

        try:
            path = Path(keras.utils.get_file(MOVIELENS_FILE, origin=MOVIELENS_URL))
        except Exception as error:  # no network, blocked host ...
            raise DataNotFoundError(
                f"could not download {MOVIELENS_URL} ({type(error).__name__}: {error}). Without "
                f"internet, set {ENV_DATA} to a folder holding {MOVIELENS_FILE} (the GroupLens zip)"
            ) from error
    try:
        with zipfile.ZipFile(path) as archive, archive.open(MOVIELENS_RATINGS) as ratings:
            return pd.read_csv(ratings)
    except (zipfile.BadZipFile, KeyError) as error:
        raise DataNotFoundError(
            f"{path} is not the MovieLens zip ({error}): expected {MOVIELENS_RATINGS} inside "
            f"{MOVIELENS_FILE}; replace the file or point {ENV_DATA} at a folder with the original"
        ) from error


def _require_observed(matrix, what: str):
    if not np.isfinite(np.asarray(matrix, dtype=float)).any():
        raise ValueError(f"{what} has no observed entries (every entry is missing): nothing to factorize")
    return matrix


def densest_ratings(ratings, users: int = 375, movies: int = 500):
    """The rating matrix of the ``movies`` most-rated movies and the ``users`` most active users.

    Selection rule, in this order:

    1. movies: the ``movies`` movies with the most ratings (ties: smaller ``movieId`` first);
    2. users: among the ratings of those movies, the ``users`` users with the most ratings
       (ties: smaller ``userId`` first).

    Returns a DataFrame with one row per user (index ``userId``, ascending) and one column per
    movie (``movieId``, ascending); a missing rating is ``NaN``, never 0. For MovieLens
    latest-small and 375 x 500 about 21% of the entries are observed.
    """
    import pandas as pd

    needed = {"userId", "movieId", "rating"}
    if not needed <= set(ratings.columns):
        raise ValueError(f"expected columns {sorted(needed)}, got {list(ratings.columns)}")
    _require_observed(ratings["rating"].to_numpy(dtype=float), "the ratings table")

    def most(counts: pd.Series, n: int) -> pd.Index:
        table = counts.rename("n").rename_axis("id").reset_index()
        return pd.Index(table.sort_values(["n", "id"], ascending=[False, True])["id"].iloc[:n])

    kept_movies = most(ratings["movieId"].value_counts(), movies)
    subset = ratings[ratings["movieId"].isin(kept_movies)]
    kept_users = most(subset["userId"].value_counts(), users)
    subset = subset[subset["userId"].isin(kept_users)]
    matrix = subset.pivot(index="userId", columns="movieId", values="rating")
    return matrix.sort_index().sort_index(axis=1)


def load_rating_csv(path):
    """A rating matrix in the original course format: a CSV of users x items, 0 = missing.

    Comma-, semicolon-, tab- or space-separated numbers without a header. Returns a DataFrame
    (rows = users, columns = items) with ``NaN`` for the missing entries.
    """
    import pandas as pd

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataNotFoundError(f"rating file {path} does not exist: expected a CSV of users x items "
                                f"with 0 for a missing rating")
    matrix = pd.read_csv(path, header=None, sep=r"[,;\s]+", engine="python")
    try:
        values = matrix.to_numpy(dtype=float)
    except ValueError as error:
        raise ValueError(f"{path}: expected only numbers (users x items, 0 = missing): {error}") from None
    matrix = pd.DataFrame(np.where(values == 0, np.nan, values))
    matrix.index.name, matrix.columns.name = "user", "item"
    return _require_observed(matrix, f"the rating file {path}")


# --- assignment 4: CIFAR-10 statistics, normalisation layer and the lab's split ------------------

#: Per-channel mean and standard deviation of CIFAR-10's training pixels in [0, 1], as commonly
#: published (computed on the original, uncompressed images). Assignment 4 normalises with them.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_normalization(name: str = "normalization"):
    """A ``keras.layers.Normalization`` layer with :data:`CIFAR10_MEAN` and :data:`CIFAR10_STD`.

    Placed first in a model, it turns raw [0, 1] pixels into ``(x - mean) / std`` per channel, so
    the model (and a saved copy of it) takes the same raw pixels as every other model of the
    workbook. It has no trainable weights and needs no ``adapt``.
    """
    import keras

    return keras.layers.Normalization(mean=list(CIFAR10_MEAN), variance=list(np.square(CIFAR10_STD)),
                                      name=name)


def cifar10_lab_split(train_images: int | None = None, validation_images: int | None = None,
                      test_images: int | None = None, n_validation: int = 1_000, seed: int = 0):
    """Assignment 4's data: CIFAR-10's 50,000 training images split at random (seeded) into
    49,000 for training and 1,000 for validation, plus the 10,000 test images.

    Returns ``{"train": (x, y), "validation": (x, y), "test": (x, y)}`` with ``float32`` pixels in
    [0, 1] and flat integer labels of shape ``(N,)``. ``train_images``, ``validation_images`` and
    ``test_images`` take a seeded random subset of each part (the reduced profiles); ``None`` keeps
    it whole. The same arguments always give the same arrays, so every notebook of the assignment
    sees identical data.
    """
    (x_train, y_train), (x_test, y_test) = load("cifar10")
    (x_fit, y_fit), (x_val, y_val) = holdout(x_train, y_train.reshape(-1), n_validation=n_validation,
                                             seed=seed)
    parts = {"train": (x_fit, y_fit, train_images), "validation": (x_val, y_val, validation_images),
             "test": (x_test, y_test.reshape(-1), test_images)}
    split = {}
    for part, (x, y, n) in parts.items():
        x, y = sample(n, x, y, seed=seed)
        split[part] = (scale_pixels(x), y)
    return split
