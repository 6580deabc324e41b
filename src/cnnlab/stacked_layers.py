"""The layers of R runs of one network, computed together (the forward pass of :mod:`cnnlab.stacked`).

A tensor flowing through :class:`StackedNetwork` has one of three forms:

``shared``
    ``(batch, ...)``: the same examples for every run (evaluation input);
``runs``
    ``(R, batch, ...)``: run r's examples or features in slice r (training input, flat features);
``grouped``
    ``(batch, H, W, R * C)``: feature maps of every run side by side, run r's C channels in block r.

Dense kernels are stacked on a leading run axis, ``(R, inputs, units)``, and one batched matrix
product computes every run's layer; convolution kernels are concatenated on the output-channel
axis, ``(kh, kw, C, R * filters)``, which makes ``tf.nn.conv2d`` a grouped convolution with one
group per run. Pooling, element-wise activations and batch normalisation over the channels act on
each channel alone, so on grouped maps they are exactly each run's own layer.

Randomness stays each run's own: a dropout mask for run r is drawn by run r's Keras layer's seed
generator, with run r's rate, exactly as that layer draws it in ``fit``; augmentation and
normalisation layers at the input are run r's own Keras layers applied to run r's batch.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .stacked_rules import DROPOUTS, GLOBAL_POOLS, INPUT_LAYERS, flat_layers

RANDOM_LAYERS = (keras.layers.RandomFlip, keras.layers.RandomTranslation)
POOL_OPS = {keras.layers.MaxPooling2D: tf.nn.max_pool2d, keras.layers.AveragePooling2D: tf.nn.avg_pool2d}


class StackedNetwork:
    """R copies of a supported ``Sequential`` network; see the module docstring.

    ``models`` are the runs' freshly built Keras models; their weights (and batch-norm statistics)
    are copied in, and :meth:`copy_to` writes them back after training.
    """

    def __init__(self, models: list[keras.Model]):
        self.runs = len(models)
        self.input_rank = len(models[0].inputs[0].shape) - 1  # of one example
        per_model = [flat_layers(m) for m in models]
        self.steps = []  # (kind, per-run layers, stacked variables)
        self.variables, self.statistics = [], []
        for i, layer in enumerate(per_model[0]):
            per_run = [layers[i] for layers in per_model]
            kind, weights, statistics = self._translate(i, layer, per_run)
            # an input layer with the same weights in every run (compared here, eagerly, not while tracing)
            if kind == "input" and all(
                all(np.array_equal(a, b) for a, b in zip(per_run[0].weights, l.weights)) for l in per_run
            ):
                kind = "same_input"
            self.steps.append((kind, per_run, weights + statistics))
            self.variables += weights
            self.statistics += statistics

    @staticmethod
    def _translate(i, layer, per_run):
        """(kind, trainable variables, moving statistics) of layer ``i`` of every run."""
        if type(layer) is keras.layers.Dense:
            # kernel (R, in, out), bias (R, out)
            weights = [
                keras.Variable(np.stack([np.asarray(w) for w in ws]), name=f"{ws[0].name}_{i}")
                for ws in zip(*(l.weights for l in per_run))
            ]
            return "dense", weights, []
        if type(layer) is keras.layers.Conv2D:
            kernel = np.concatenate([np.asarray(l.kernel) for l in per_run], axis=-1)
            weights = [keras.Variable(kernel, name=f"kernel_{i}")]
            if layer.use_bias:
                weights.append(keras.Variable(np.concatenate([np.asarray(l.bias) for l in per_run]), name=f"bias_{i}"))
            return "conv", weights, []
        if type(layer) is keras.layers.BatchNormalization:

            def per_channel(attr, trainable):
                # (R, C): reshaped to the grouped (R * C,) or the runs (R, 1, C) layout when used
                return keras.Variable(
                    np.stack([np.asarray(getattr(l, attr)) for l in per_run]), name=f"{attr}_{i}", trainable=trainable
                )

            weights = ([per_channel("gamma", True)] if layer.scale else []) + (
                [per_channel("beta", True)] if layer.center else []
            )
            return "batchnorm", weights, [per_channel("moving_mean", False), per_channel("moving_variance", False)]
        if isinstance(layer, INPUT_LAYERS):
            return "input", [], []
        if type(layer) in POOL_OPS:
            return "pool", [], []
        if type(layer) in GLOBAL_POOLS:
            return "global_pool", [], []
        if type(layer) is keras.layers.Flatten:
            return "flatten", [], []
        if type(layer) in DROPOUTS:
            return "dropout", [], []
        return "elementwise", [], []

    # --- the three forms --------------------------------------------------------------------

    def to_runs(self, h, form):
        if form == "runs":
            return h
        if form == "shared":
            return tf.broadcast_to(h[None], tf.concat([[self.runs], tf.shape(h)], axis=0))
        shape = tf.shape(h)  # grouped (b, H, W, R * C) -> (R, b, H, W, C)
        h = tf.reshape(h, tf.concat([shape[:3], [self.runs, h.shape[-1] // self.runs]], axis=0))
        return tf.transpose(h, [3, 0, 1, 2, 4])

    def to_grouped(self, h, form):
        if form == "grouped":
            return h
        if form == "shared":
            return tf.tile(h, [1, 1, 1, self.runs])
        h = tf.transpose(h, [1, 2, 3, 0, 4])  # (R, b, H, W, C) -> (b, H, W, R, C)
        shape = tf.shape(h)
        return tf.reshape(h, tf.concat([shape[:3], [self.runs * h.shape[-1]]], axis=0))

    def image_form(self, h, form):
        """Grouped for feature maps (rank 4 per run), the runs form for anything else."""
        if form == "grouped":
            return h, form
        if len(h.shape) - (form == "runs") == 4:
            return self.to_grouped(h, form), "grouped"
        return self.to_runs(h, form), "runs"

    # --- the forward pass -------------------------------------------------------------------

    @tf.autograph.experimental.do_not_convert  # no tensor-dependent Python control flow here
    def __call__(self, x, training: bool = False):
        """``x``: per-run batches (R, b, ...) or a batch shared by every run (b, ...).
        Returns the outputs of every run, (R, b, outputs)."""
        form = "runs" if len(x.shape) == self.input_rank + 2 else "shared"
        h = x
        for kind, per_run, weights in self.steps:
            h, form = getattr(self, "_" + kind)(h, form, per_run, weights, training)
        return self.to_runs(h, form)

    def _same_input(self, h, form, per_run, weights, training):
        """An input layer with the same weights in every run: on a shared batch it is applied once,
        unless it draws random numbers in training (each run draws its own)."""
        if form == "shared" and not (training and isinstance(per_run[0], RANDOM_LAYERS)):
            return per_run[0](h, training=training), form
        return self._input(h, form, per_run, weights, training)

    def _input(self, h, form, per_run, weights, training):
        h = self.to_runs(h, form)
        return tf.stack([layer(h[r], training=training) for r, layer in enumerate(per_run)]), "runs"

    def _conv(self, h, form, per_run, weights, training):
        layer = per_run[0]
        # on a batch shared by every run, one ordinary convolution with every run's filters;
        # otherwise a grouped one (run r's filters see run r's channels)
        h = tf.nn.conv2d(
            h if form == "shared" else self.to_grouped(h, form),
            weights[0],
            strides=layer.strides,
            padding=layer.padding.upper(),
        )
        if layer.use_bias:
            h = h + weights[1]
        return layer.activation(h), "grouped"

    def _dense(self, h, form, per_run, weights, training):
        layer = per_run[0]
        if form == "shared":
            h = tf.einsum("bi,rio->rbo", h, weights[0])
        else:
            h = tf.matmul(self.to_runs(h, form), weights[0])
        if layer.use_bias:
            h = h + weights[1][:, None, :]
        return layer.activation(h), "runs"

    def _pool(self, h, form, per_run, weights, training):
        layer = per_run[0]
        return (
            POOL_OPS[type(layer)](
                self.to_grouped(h, form), ksize=layer.pool_size, strides=layer.strides, padding=layer.padding.upper()
            ),
            "grouped",
        )

    def _global_pool(self, h, form, per_run, weights, training):
        reduce = tf.reduce_mean if isinstance(per_run[0], keras.layers.GlobalAveragePooling2D) else tf.reduce_max
        h = reduce(self.to_grouped(h, form), axis=[1, 2])  # (b, R * C)
        h = tf.reshape(h, [-1, self.runs, h.shape[-1] // self.runs])
        return tf.transpose(h, [1, 0, 2]), "runs"

    def _flatten(self, h, form, per_run, weights, training):
        if form == "shared":
            return tf.reshape(h, [tf.shape(h)[0], -1]), "shared"
        h = self.to_runs(h, form)  # grouped maps become (R, b, H, W, C): Keras's (H, W, C) order
        return tf.reshape(h, tf.concat([tf.shape(h)[:2], [-1]], axis=0)), "runs"

    def _elementwise(self, h, form, per_run, weights, training):
        return per_run[0](h), form

    def _dropout(self, h, form, per_run, weights, training):
        if not training or all(layer.rate == 0 for layer in per_run):
            return h, form
        h, form = self.image_form(h, form)
        if form == "grouped":
            shape = tf.shape(h)
            channels = h.shape[-1] // self.runs
            one = tf.concat([shape[:3], [channels]], axis=0)
            if isinstance(per_run[0], keras.layers.SpatialDropout2D):
                one = tf.concat([shape[:1], [1, 1, channels]], axis=0)
            masks = [self._mask(layer, one) for layer in per_run]
            return h * tf.concat(masks, axis=-1), form
        masks = [self._mask(layer, tf.shape(h)[1:]) for layer in per_run]
        return h * tf.stack(masks), form

    @staticmethod
    def _mask(layer, shape):
        """Run ``layer``'s dropout mask (0 or 1 / (1 - rate)), drawn as the layer itself draws it."""
        if layer.rate == 0:
            return tf.ones(shape)
        return keras.random.dropout(tf.ones(shape), layer.rate, seed=layer.seed_generator)

    def _batchnorm(self, h, form, per_run, weights, training):
        layer = per_run[0]
        h, form = self.image_form(h, form)
        params = list(weights)
        gamma = params.pop(0) if layer.scale else None
        beta = params.pop(0) if layer.center else None
        moving_mean, moving_variance = params
        if form == "grouped":
            axes, shape = [0, 1, 2], [-1]  # per channel of every run
        else:
            axes = list(range(1, len(h.shape) - 1))  # (R, b, ..., C): per run and channel
            shape = [self.runs] + [1] * (len(h.shape) - 2) + [moving_mean.shape[-1]]
        as_used = [None if v is None else tf.reshape(v, shape) for v in (gamma, beta, moving_mean, moving_variance)]
        gamma, beta, mean, variance = as_used
        if training:
            mean, variance = tf.nn.moments(h, axes, keepdims=False)
            mean, variance = tf.reshape(mean, shape), tf.reshape(variance, shape)
            momentum = layer.momentum
            moving_mean.assign(tf.reshape(as_used[2] * momentum + mean * (1.0 - momentum), moving_mean.shape))
            moving_variance.assign(
                tf.reshape(as_used[3] * momentum + variance * (1.0 - momentum), moving_variance.shape)
            )
        h = tf.nn.batch_normalization(h, mean, variance, beta, gamma, layer.epsilon)
        return h, form

    # --- back to Keras ----------------------------------------------------------------------

    def copy_to(self, models: list[keras.Model]) -> None:
        """Write run r's weights and batch-norm statistics into ``models[r]``."""
        per_model = [flat_layers(m) for m in models]
        for i, (kind, _, variables) in enumerate(self.steps):
            for r, layers in enumerate(per_model):
                layer = layers[i]
                if kind == "dense":
                    for target, source in zip(layer.weights, variables):
                        target.assign(source[r])
                elif kind == "conv":
                    width = variables[0].shape[-1] // self.runs
                    for target, source in zip([layer.kernel] + ([layer.bias] if layer.use_bias else []), variables):
                        target.assign(source[..., r * width : (r + 1) * width])
                elif kind == "batchnorm":
                    targets = (
                        ([layer.gamma] if layer.scale else [])
                        + ([layer.beta] if layer.center else [])
                        + [layer.moving_mean, layer.moving_variance]
                    )
                    for target, source in zip(targets, variables):
                        target.assign(source[r])
