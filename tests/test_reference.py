"""The from-scratch convolution of cnnlab.reference against the Keras layer it re-implements."""

import keras
import numpy as np
import pytest

from cnnlab import reference


def keras_conv(images, c_out, kernel_size, stride, use_bias, seed):
    keras.utils.set_random_seed(seed)
    layer = keras.layers.Conv2D(c_out, kernel_size, strides=stride, padding="valid", use_bias=use_bias,
                                bias_initializer="random_normal" if use_bias else "zeros")
    out = np.asarray(layer(images))
    return out, layer.get_weights()


@pytest.mark.parametrize("shape, c_out, k, stride", [
    ((1, 32, 32, 3), 2, 1, 1),   # the notebook's 1x1 case on a CIFAR-sized image
    ((1, 12, 12, 3), 2, 3, 1),   # the notebook's 3x3 case
    ((2, 9, 9, 4), 3, 3, 2),     # stride 2, several images
    ((3, 8, 10, 1), 5, 2, 2),    # non-square image, one input channel
    ((2, 7, 7, 2), 4, 5, 1),     # a kernel almost as large as the image
    ((1, 11, 11, 3), 2, 4, 3),   # a stride that does not divide the image: windows at 0, 3, 6
])
@pytest.mark.parametrize("use_bias", [False, True])
def test_conv2d_matches_the_keras_layer(shape, c_out, k, stride, use_bias):
    images = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected, weights = keras_conv(images, c_out, k, stride, use_bias, seed=1)
    ours = reference.conv2d(images, weights[0], weights[1] if use_bias else None, stride=stride)
    assert ours.shape == expected.shape == (shape[0], (shape[1] - k) // stride + 1,
                                            (shape[2] - k) // stride + 1, c_out)
    assert np.allclose(ours, expected, atol=1e-5)


def test_conv2d_is_a_cross_correlation_of_one_window():
    images = np.arange(16, dtype=float).reshape(1, 4, 4, 1)
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(2, 2, 1, 1)  # top-left minus bottom-right
    out = reference.conv2d(images, kernel)
    assert out.shape == (1, 3, 3, 1)
    assert np.allclose(out, -5.0)  # x[i, j] - x[i+1, j+1] = -(4 + 1) everywhere
    assert reference.conv2d(images, kernel, stride=2).shape == (1, 2, 2, 1)


def test_conv2d_rejects_bad_shapes_with_the_expected_shape():
    images = np.zeros((1, 5, 5, 3))
    with pytest.raises(ValueError, match=r"3 input channels .* images have 2"):
        reference.conv2d(np.zeros((1, 5, 5, 2)), np.zeros((1, 1, 3, 2)))
    with pytest.raises(ValueError, match=r"\(N, H, W, C_in\)"):
        reference.conv2d(np.zeros((5, 5, 3)), np.zeros((1, 1, 3, 2)))
    with pytest.raises(ValueError, match="does not fit"):
        reference.conv2d(images, np.zeros((6, 6, 3, 1)))
    with pytest.raises(ValueError, match=r"bias of shape \(2,\)"):
        reference.conv2d(images, np.zeros((1, 1, 3, 2)), bias=np.zeros(3))
    with pytest.raises(ValueError, match="stride"):
        reference.conv2d(images, np.zeros((1, 1, 3, 2)), stride=0)

