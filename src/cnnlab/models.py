"""Builders for the architectures that several notebooks, checks or tests reuse, named after what
they are. A network an exercise asks the student to build is written out in its notebook's
solution instead.

Builders return uncompiled ``keras.Model`` objects, so each notebook shows the optimizer, loss
and metrics it trains with (``mnist_convnet`` compiles only when a notebook names the optimizer and
its settings). Images are channels-last (NHWC).
"""

from __future__ import annotations

import keras
from keras import layers


def mlp(input_shape=(28, 28), hidden=(32,), classes: int = 10, output_activation="softmax",
        name: str | None = None) -> keras.Sequential:
    """Flatten, then one ReLU ``Dense`` layer per entry of ``hidden``, then ``Dense(classes)``.

    ``hidden=()`` gives a linear classifier (no hidden layer). ``output_activation`` may be
    ``"softmax"``, ``"relu"`` (assignment 1's first model) or ``None`` for logits.
    """
    hidden = tuple(hidden)
    stack = [keras.Input(shape=tuple(input_shape)), layers.Flatten()]
    stack += [layers.Dense(units, activation="relu") for units in hidden]
    stack.append(layers.Dense(classes, activation=output_activation))
    if name is None:
        name = "mlp_" + "_".join(str(u) for u in (*hidden, classes))
    return keras.Sequential(stack, name=name)


# --- assignment 3: one configurable convnet with a global-average-pooling head -------------------


def gap_cnn(input_shape=(32, 32, 3), conv_layers: int = 2, dense_layers: int = 1, width: int = 16,
            kernel_size: int = 2, dense_units: int | None = None, classes: int = 10,
            name: str | None = None) -> keras.Sequential:
    """Assignment 3's configurable convnet; it outputs logits (no softmax).

    ``conv_layers`` ReLU convolutions of ``kernel_size``×``kernel_size`` with SAME padding, the first
    with ``width`` filters and each next one with twice as many (16, 32, 64, ... for ``width=16``),
    a 2×2 max-pool with stride 2 and VALID padding between consecutive convolutions, then the mean
    of every channel over the spatial axes (global average pooling), ``dense_layers - 1`` hidden
    ReLU ``Dense`` layers of ``dense_units`` units (default: as many as the last convolution has
    filters) and a final ``Dense(classes)`` producing logits. These are the original Objax
    defaults (SAME convolutions, VALID pooling), channels-last.

    The defaults are the assignment's base model, Conv2D(16, 2) → MaxPool → Conv2D(32, 2) → GAP →
    Dense(10): 2,618 parameters for 32×32×3 images (208 + 2,080 + 330), 2,490 for 28×28×1.
    """
    if conv_layers < 1 or dense_layers < 1:
        raise ValueError(f"need at least one convolution and one dense layer, got conv_layers={conv_layers}, "
                         f"dense_layers={dense_layers}")
    if len(input_shape) != 3:
        raise ValueError(f"expected a channels-last image shape (H, W, C), got {tuple(input_shape)}")
    filters = [width * 2 ** i for i in range(conv_layers)]
    stack = [keras.Input(shape=tuple(input_shape))]
    for i, f in enumerate(filters):
        if i > 0:
            stack.append(layers.MaxPooling2D(pool_size=2, strides=2, padding="valid"))
        stack.append(layers.Conv2D(f, kernel_size, padding="same", activation="relu"))
    stack.append(layers.GlobalAveragePooling2D())
    units = dense_units or filters[-1]
    stack += [layers.Dense(units, activation="relu") for _ in range(dense_layers - 1)]
    stack.append(layers.Dense(classes))
    if name is None:
        name = f"gap_cnn_c{conv_layers}_d{dense_layers}_n{width}_k{kernel_size}"
    return keras.Sequential(stack, name=name)


# --- assignment 2: the reference MNIST convnet -------------------------------------------------

#: Assignment 2's three dropout variants of :func:`mnist_convnet`: (after pooling, after Dense(128)).
MNIST_CONVNET_DROPOUT = {"none": (0.0, 0.0), "reference": (0.25, 0.5), "high": (0.6, 0.8)}


def mnist_convnet(dropout=(0.25, 0.5), input_shape=(28, 28, 1), classes: int = 10, name: str | None = None,
                  optimizer: str | None = None, **settings) -> keras.Sequential:
    """Assignment 2: the reference Keras MNIST convnet with *same* padding, its two dropout rates as parameters.

    Conv2D(32, 3x3, ReLU, same) -> Conv2D(64, 3x3, ReLU, same) -> MaxPool(2x2) -> Dropout(``dropout[0]``) ->
    Flatten (14*14*64 = 12,544 features) -> Dense(128, ReLU) -> Dropout(``dropout[1]``) -> Dense(``classes``,
    softmax): 1,625,866 parameters for 28x28x1 input, whatever the rates. A rate of 0 keeps its ``Dropout``
    layer as an identity, and both layers draw their seeds from Python's ``random`` whatever the rates, so
    after the same ``keras.utils.set_random_seed`` the variants start from the same initial weights. Given an
    ``optimizer`` (a Keras name such as ``"adadelta"``, with its ``settings``, e.g. ``learning_rate=1.0``), the
    model comes back compiled for integer labels: sparse categorical cross-entropy, accuracy.
    """
    import random

    try:
        after_pool, after_dense = (float(rate) for rate in dropout)
    except (TypeError, ValueError):
        raise ValueError(f"dropout must be a pair of rates (after pooling, after the dense layer), "
                         f"got {dropout!r}") from None
    if not (0.0 <= after_pool < 1.0 and 0.0 <= after_dense < 1.0):
        raise ValueError(f"dropout rates must be in [0, 1), got {dropout!r}")
    if settings and optimizer is None:
        raise ValueError(f"optimizer settings {sorted(settings)} given without an optimizer: pass optimizer=...")
    seeds = [random.randint(1, 10**9) for _ in range(2)]  # drawn for every rate, even 0
    model = keras.Sequential(
        [keras.Input(shape=tuple(input_shape)), layers.Conv2D(32, 3, padding="same", activation="relu"),
         layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
         layers.Dropout(after_pool, seed=seeds[0]), layers.Flatten(), layers.Dense(128, activation="relu"),
         layers.Dropout(after_dense, seed=seeds[1]), layers.Dense(classes, activation="softmax")],
        name=name or f"mnist_convnet_dropout_{after_pool:g}_{after_dense:g}")
    if optimizer is not None:
        model.compile(optimizer=keras.optimizers.get({"class_name": optimizer, "config": settings}),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def dropout_rates(model: keras.Model) -> list[float]:
    """The rates of a model's ``Dropout`` layers, in order."""
    return [float(layer.rate) for layer in model.layers if isinstance(layer, layers.Dropout)]


