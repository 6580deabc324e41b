import numpy as np
import pytest

from cnnlab import data

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_mnist_from_local_folder_has_keras_shapes_dtypes_and_labels(data_folder):
    (x_train, y_train), (x_test, y_test) = data.load("mnist")
    assert x_train.shape == (60_000, 28, 28) and x_test.shape == (10_000, 28, 28)
    assert y_train.shape == (60_000,) and y_test.shape == (10_000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_COUNTS
    assert x_train.mean() / 255 == pytest.approx(0.1307, abs=1e-4)


def test_fashion_mnist_and_cifar10_shapes(data_folder):
    (x, y), (xt, yt) = data.load("fashion_mnist")
    assert x.shape == (60_000, 28, 28) and np.bincount(yt).tolist() == [1000] * 10
    (x, y), (xt, yt) = data.load("cifar10")
    assert x.shape == (50_000, 32, 32, 3) and y.shape == (50_000, 1) and xt.shape == (10_000, 32, 32, 3)
    assert x.dtype == np.uint8 and y.dtype == np.uint8


def test_load_scaled_gives_unit_pixels_a_channel_axis_and_seeded_subsets(data_folder):
    (x, y), (xt, yt) = data.load_scaled("mnist", train=500, test=200, channel_axis=True, seed=3)
    assert x.shape == (500, 28, 28, 1) and xt.shape == (200, 28, 28, 1) and y.shape == (500,)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.99
    (x_all, y_all), _ = data.load("mnist")
    expected_x, expected_y = data.sample(500, x_all, y_all, seed=3)  # the same rows, scaled
    assert np.array_equal(x[..., 0], data.scale_pixels(expected_x)) and np.array_equal(y, expected_y)
    (x3, y3), _ = data.load_scaled("cifar10", train=10, test=10)
    assert x3.shape == (10, 32, 32, 3) and y3.shape == (10,)  # colour images keep their axes, labels are flat
    (xg, _), _ = data.load_scaled("mnist", train=10, test=10)
    assert xg.shape == (10, 28, 28)


def test_missing_file_names_the_variable_and_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    with pytest.raises(data.DataNotFoundError) as error:
        data.load("cifar10")
    assert "CNNLAB_DATA" in str(error.value) and "cifar10.npz" in str(error.value)


def test_failed_download_names_the_variable_and_the_file(monkeypatch):
    import keras

    def offline():
        raise OSError("network is unreachable")

    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(data.DataNotFoundError) as error:
        data.load("mnist")
    message = str(error.value)
    assert "CNNLAB_DATA" in message and "mnist.npz" in message and "unreachable" in message


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        data.load("imagenet")
    assert all(name in str(error.value) for name in data.DATASETS)


def test_relative_data_folder_is_resolved_from_the_launch_directory(data_folder, tmp_path, monkeypatch):
    launch = data_folder.parent
    monkeypatch.setenv("PWD", str(launch))
    monkeypatch.chdir(tmp_path)  # as a notebook kernel running in its own folder
    monkeypatch.setenv("CNNLAB_DATA", data_folder.name)
    assert data.data_dir() == data_folder.resolve()


def test_scale_pixels_maps_uint8_to_unit_range():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    assert np.allclose(data.scale_pixels(x), [[0, 0.2, 1]]) and data.scale_pixels(x).dtype == np.float32
    with pytest.raises(TypeError, match="uint8"):
        data.scale_pixels(x.astype(float))


def test_sample_takes_matching_rows_and_is_seeded():
    x = np.arange(100) * 10
    y = np.arange(100)
    xs, ys = data.sample(20, x, y, seed=3)
    assert len(xs) == 20 and np.array_equal(xs, ys * 10) and np.all(np.diff(ys) > 0)
    assert np.array_equal(ys, data.sample(20, x, y, seed=3)[1])
    assert not np.array_equal(ys, data.sample(20, x, y, seed=4)[1])
    assert data.sample(None, x) is x


def test_holdout_is_a_partition():
    x = np.arange(50)
    (xt, yt), (xv, yv) = data.holdout(x, x * 2, n_validation=10, seed=0)
    assert len(xv) == 10 and len(xt) == 40
    assert sorted(np.concatenate([xt, xv]).tolist()) == list(range(50))
    assert np.array_equal(yv, xv * 2)


@pytest.mark.parametrize("n, sizes", [(60_000, [48_000, 6_000, 6_000]), (70_000, [56_000, 7_000, 7_000])])
def test_split_indices_sizes_disjoint_and_deterministic(n, sizes):
    parts = data.split_indices(n, seed=1)
    assert [len(p) for p in parts] == sizes
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n))  # disjoint and covering
    again = data.split_indices(n, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    np.random.seed(1)
    assert np.array_equal(np.concatenate(parts), np.random.permutation(n))  # the assignment's recipe
    assert not np.array_equal(parts[0], data.split_indices(n, seed=2)[0])


def test_split_pool_cifar10_sizes(data_folder):
    split = data.split_pool("cifar10")
    assert {k: len(v[0]) for k, v in split.items()} == {"train": 48_000, "validation": 6_000, "test": 6_000}
    assert split["train"][1].shape == (48_000,)


@pytest.mark.parametrize("shape", [(28, 28), (32, 32, 3)])
def test_pixel_permutation_is_a_bijection_and_inverts(shape):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, *shape), dtype=np.uint8)
    perm = data.pixel_permutation(shape, seed=1)
    assert sorted(perm.tolist()) == list(range(shape[0] * shape[1]))
    shuffled = data.permute_pixels(images, perm)
    assert shuffled.shape == images.shape and not np.array_equal(shuffled, images)
    assert np.array_equal(data.permute_pixels(shuffled, data.inverse_permutation(perm)), images)
    # every image keeps its multiset of pixels (colour pixels move as a whole)
    flat = images.reshape(4, -1, images.shape[-1] if len(shape) == 3 else 1)
    assert np.array_equal(shuffled.reshape(flat.shape), flat[:, perm])


def test_one_permutation_hits_train_and_test_alike():
    rng = np.random.default_rng(0)
    train, test = rng.random((5, 28, 28)), rng.random((3, 28, 28))
    perm = data.pixel_permutation((28, 28), seed=7)
    both = data.permute_pixels(np.concatenate([train, test]), perm)
    assert np.array_equal(both[:5], data.permute_pixels(train, perm))
    assert np.array_equal(both[5:], data.permute_pixels(test, perm))


def test_permute_pixels_rejects_a_non_permutation():
    with pytest.raises(ValueError, match="784 pixel positions"):
        data.permute_pixels(np.zeros((2, 28, 28)), np.zeros(784, dtype=int))


def test_permute_each_image_uses_different_orders():
    images = np.tile(np.arange(16, dtype=float).reshape(1, 4, 4), (3, 1, 1))
    out = data.permute_each_image(images, seed=0)
    assert all(sorted(img.ravel().tolist()) == list(range(16)) for img in out)
    assert not np.array_equal(out[0], out[1])
