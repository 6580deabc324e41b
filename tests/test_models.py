import pytest

from cnnlab import models


@pytest.mark.parametrize("hidden, params", [
    ((32,), 25_450),            # assignment 1 first model: 784*32+32 + 32*10+10
    ((), 7_850),                # no hidden layer: a linear classifier
    ((64, 32), 52_650),
    ((64, 32, 16), 53_018),
])
def test_mnist_mlp_parameter_counts(hidden, params):
    assert models.mlp(hidden=hidden).count_params() == params


def test_cifar_mlp_parameter_count():
    assert models.mlp(input_shape=(32, 32, 3), hidden=[32]).count_params() == 3072 * 32 + 32 + 330


def test_mlp_output_activation():
    assert models.mlp(output_activation="relu").layers[-1].activation.__name__ == "relu"
    assert models.mlp().layers[-1].activation.__name__ == "softmax"
