"""Train R independent copies of a small network in one compiled TensorFlow graph.

Training ten 784-32-10 perceptrons one after another with ``model.fit`` spends almost all its time
in per-step overhead (Python, callbacks, launching tiny kernels), not in arithmetic. Here the R
copies become one model whose weights carry a leading run axis: a dense layer's kernel has shape
``(R, inputs, units)`` and one batched matrix product computes all runs' layers at once. A whole
epoch (every step of every run) is one call into a compiled ``tf.function``.

What stays exactly as with R separate ``fit`` calls:

* **initial weights**: the R Keras models are built with the same per-run seeds as the sequential
  path and their weights are copied, so run ``r`` starts from the very weights it would have
  started from there;
* **loss and gradients**: the total loss is the *sum* of the runs' mean batch losses, so each
  run's gradient is exactly the gradient of its own loss (runs share no weights);
* **optimizer state**: one optimizer of the model's class and configuration updates the stacked
  variables; Keras optimizers work element by element (momentum, Adam's moments), so each run
  keeps its own state. Settings that would couple runs (``clipnorm``, ``global_clipnorm``, EMA,
  gradient accumulation) make the model take the sequential path instead;
* **reported metrics**: training loss and accuracy are averaged over the epoch as ``fit`` reports
  them; evaluation uses the same Keras loss functions on the whole evaluation set.

What differs: each run's batch order comes from its own NumPy generator (seeded per run) instead
of TensorFlow's shuffling inside ``fit``, so a run is a different, equally random draw than the
sequential path would make with the same seed; and floating-point sums are taken in a different
order, so numbers agree with ``fit`` in distribution, not bit for bit.

Convolutions are stacked too: the R copies of a ``Conv2D`` become one grouped convolution (one
group of channels per run), pooling acts on every channel alike, and ``Flatten`` turns the grouped
channels back into one feature vector per run. Supported models: ``keras.Sequential`` stacks of
``Conv2D``, ``MaxPooling2D``/``AveragePooling2D``, ``Flatten``, ``Dense`` and ``Activation``/``ReLU``
layers (no regularizers or constraints), compiled with mean squared error or (sparse) categorical
cross-entropy and at most the ``accuracy`` metric. :func:`unsupported_reason` says why any other
model is left to the sequential path.

Which path ``multirun.repeated_runs`` takes by itself (:func:`preferred`): every supported
model with more than one run, and supported dense stacks even for a single run. Dense stacks gain
most, because their steps are tiny and overhead dominates (ten 784-32-10 perceptrons: about 12x
faster than a ``fit`` loop, see ``benchmarks/repeated_runs.py``). Convnet steps are dominated by
the convolution arithmetic, which stacking does not reduce, so they gain less: three runs of the
assignment 1 Q9 convnet measured 1.4x faster than the sequential path at the notebook's ``cpu``
size (10,000 images, 5 epochs) and 1.5x at the benchmark's default size. A single convnet run
has nothing to stack and keeps ``model.fit``. ``Dropout`` and ``BatchNormalization`` layers are
not supported, so the convnets of assignments 2 and 4 train sequentially.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from .tidy import COLUMNS

LOSSES = {
    "mean_squared_error": keras.losses.mean_squared_error,
    "mse": keras.losses.mean_squared_error,
    "sparse_categorical_crossentropy": keras.losses.sparse_categorical_crossentropy,
    "categorical_crossentropy": keras.losses.categorical_crossentropy,
}
COUPLING_OPTIMIZER_SETTINGS = ("clipnorm", "global_clipnorm", "use_ema", "gradient_accumulation_steps")


def _loss_name(model) -> str | None:
    loss = model.loss
    if isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.LossFunctionWrapper):
        config = loss.get_config()
        if config.get("from_logits"):
            return None
        return getattr(loss.fn, "__name__", None)
    return None


POOLS = {keras.layers.MaxPooling2D: tf.nn.max_pool2d, keras.layers.AveragePooling2D: tf.nn.avg_pool2d}
ELEMENTWISE = (keras.layers.Activation, keras.layers.ReLU)


def _layer_reason(layer, flat: bool) -> str | None:
    kind = type(layer).__name__
    if any(getattr(layer, attr, None) is not None for attr in (
            "kernel_regularizer", "bias_regularizer", "activity_regularizer",
            "kernel_constraint", "bias_constraint")):
        return f"layer {layer.name} has a regularizer or constraint"
    if isinstance(layer, keras.layers.Dense):
        if not flat:
            return f"layer {layer.name} (Dense) needs flat input: add a Flatten before it"
        if getattr(layer, "lora_rank", None):
            return f"layer {layer.name} uses LoRA"
    elif isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
        if flat:
            return f"layer {layer.name} (Conv2D) comes after the features were flattened"
        if layer.groups != 1 or layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1):
            return f"layer {layer.name}: only ungrouped, undilated, channels-last Conv2D is stacked"
    elif type(layer) in POOLS:
        if flat or layer.data_format != "channels_last":
            return f"layer {layer.name} ({kind}) needs channels-last image input"
    elif isinstance(layer, ELEMENTWISE):
        if isinstance(layer, keras.layers.ReLU) and (layer.negative_slope or layer.max_value is not None
                                                     or layer.threshold):
            return f"layer {layer.name}: only a plain ReLU is stacked"
    elif not isinstance(layer, keras.layers.Flatten):
        return f"layer {layer.name} ({kind}) is not stacked"
    return None


def unsupported_reason(model) -> str | None:
    """``None`` when ``model`` can be trained stacked, else a sentence saying why not."""
    if not isinstance(model, keras.Sequential):
        return "only keras.Sequential models are stacked"
    if not getattr(model, "compiled", False):
        return "the model is not compiled"
    flat = len(model.inputs[0].shape) == 2
    if not flat and len(model.inputs[0].shape) not in (3, 4):
        return f"input shape {model.inputs[0].shape} is neither flat nor an image"
    for layer in model.layers:
        if isinstance(layer, keras.layers.Flatten):
            flat = True
        reason = _layer_reason(layer, flat)
        if reason:
            return reason
    name = _loss_name(model)
    if name not in LOSSES:
        return f"loss {model.loss!r} is not one of {sorted(LOSSES)}"
    config = model.get_compile_config()
    metrics = config.get("metrics") or []
    if any(m not in ("accuracy", "acc") for m in metrics) or config.get("weighted_metrics"):
        return f"metrics {metrics!r}: only 'accuracy' is supported"
    if config.get("loss_weights"):
        return "loss weights are not supported"
    optimizer_config = model.optimizer.get_config()
    for key in COUPLING_OPTIMIZER_SETTINGS:
        if optimizer_config.get(key):
            return f"optimizer setting {key}={optimizer_config[key]!r} would couple the runs"
    return None


def preferred(model, runs: int) -> bool:
    """Whether ``repeated_runs`` should stack ``runs`` copies of this model by itself: the model is
    supported, and it is convolution-free or there is more than one run to stack."""
    if unsupported_reason(model) is not None:
        return False
    return runs > 1 or not any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)


class StackedNetwork:
    """R copies of a supported network, each layer's weights stacked across runs.

    Dense kernels are stacked on a leading run axis, ``(R, inputs, units)``; convolution kernels
    are concatenated on the output-channel axis, ``(kh, kw, channels, R * filters)``, which makes
    one grouped convolution compute every run's layer. Image activations are kept as
    ``(batch, H, W, R * channels)`` (run r's channels in block r) until ``Flatten`` turns them into
    ``(R, batch, features)`` in Keras's (H, W, C) order.
    """

    def __init__(self, models: list[keras.Model]):
        self.runs = len(models)
        self.steps = []  # (kind, layer of run 0, stacked variables)
        self.variables = []
        for i, layer in enumerate(models[0].layers):
            per_run = [m.layers[i] for m in models]
            if isinstance(layer, keras.layers.Dense):
                weights = [keras.Variable(np.stack([np.asarray(l.kernel) for l in per_run]), name=f"kernel_{i}")]
                if layer.use_bias:
                    weights.append(keras.Variable(np.stack([np.asarray(l.bias) for l in per_run]), name=f"bias_{i}"))
                kind = "dense"
            elif isinstance(layer, keras.layers.Conv2D):
                weights = [keras.Variable(np.concatenate([np.asarray(l.kernel) for l in per_run], axis=-1),
                                          name=f"kernel_{i}")]
                if layer.use_bias:
                    weights.append(keras.Variable(np.concatenate([np.asarray(l.bias) for l in per_run]),
                                                  name=f"bias_{i}"))
                kind = "conv"
            elif isinstance(layer, keras.layers.Flatten):
                weights, kind = [], "flatten"
            elif type(layer) in POOLS:
                weights, kind = [], "pool"
            else:
                weights, kind = [], "elementwise"
            self.steps.append((kind, layer, weights))
            self.variables += weights
        # Networks that start with a convolution or pooling take images; all others take the
        # inputs flattened to one vector per example (their Flatten is then a no-op).
        self.is_image = bool(self.steps) and self.steps[0][0] in ("conv", "pool")

    def images(self, x):
        """Per-run image batches (R, b, H, W, C), or one batch shared by all runs (b, H, W, C), as
        grouped channels (b, H, W, R * C)."""
        if len(x.shape) == 4:
            return tf.tile(x, [1, 1, 1, self.runs])
        x = tf.transpose(x, [1, 2, 3, 0, 4])
        shape = tf.shape(x)
        return tf.reshape(x, tf.concat([shape[:3], [self.runs * shape[4]]], axis=0))

    def __call__(self, x):
        """``x``: per-run batches (R, b, ...) or a batch shared by every run (b, ...)."""
        h = x
        image = self.is_image
        if image:
            h = self.images(h)
        for kind, layer, weights in self.steps:
            if kind == "dense":
                kernel = weights[0]
                h = tf.einsum("bi,rio->rbo", h, kernel) if len(h.shape) == 2 else tf.matmul(h, kernel)
                if layer.use_bias:
                    h = h + weights[1][:, None, :]
                h = layer.activation(h)
            elif kind == "conv":
                h = tf.nn.conv2d(h, weights[0], strides=layer.strides, padding=layer.padding.upper())
                if layer.use_bias:
                    h = h + weights[1]
                h = layer.activation(h)
            elif kind == "pool":
                h = POOLS[type(layer)](h, ksize=layer.pool_size, strides=layer.strides,
                                       padding=layer.padding.upper())
            elif kind == "flatten":
                if image:
                    shape = tf.shape(h)
                    channels = h.shape[-1] // self.runs
                    h = tf.reshape(h, tf.concat([shape[:3], [self.runs, channels]], axis=0))
                    h = tf.transpose(h, [3, 0, 1, 2, 4])
                    h = tf.reshape(h, [self.runs, shape[0], -1])
                    image = False
                # without convolutions the inputs arrive flattened already (see ``is_image``)
            else:
                h = layer(h)
        return h

    def copy_to(self, models: list[keras.Model]) -> None:
        """Write run r's weights into ``models[r]``."""
        for i, (kind, _, weights) in enumerate(self.steps):
            for r, model in enumerate(models):
                layer = model.layers[i]
                if kind == "dense":
                    layer.kernel.assign(weights[0][r])
                    if layer.use_bias:
                        layer.bias.assign(weights[1][r])
                elif kind == "conv":
                    width = weights[0].shape[-1] // self.runs
                    layer.kernel.assign(weights[0][..., r * width:(r + 1) * width])
                    if layer.use_bias:
                        layer.bias.assign(weights[1][r * width:(r + 1) * width])


def _accuracy_counts(y, outputs, one_hot: bool):
    predicted = tf.argmax(outputs, axis=-1, output_type=tf.int32)
    target = tf.argmax(y, axis=-1, output_type=tf.int32) if one_hot else tf.cast(y, tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(predicted, target), tf.float32), axis=-1)


def train_stacked(models: list[keras.Model], train, *, epochs: int, evaluate: dict, batch_size: int,
                  seeds: list[int], verbose: bool = True) -> pd.DataFrame:
    """Train the freshly built, compiled ``models`` (one per run) together; see the module docstring.

    ``seeds[r]`` drives run r's batch order. The trained weights are written back into ``models``.
    Returns the tidy frame (run, epoch, split, metric, value).
    """
    first = models[0]
    loss_fn = LOSSES[_loss_name(first)]
    x, y = train
    n = len(x)
    runs = len(models)
    stacked = StackedNetwork(models)
    shape = tuple(x.shape[1:]) if stacked.is_image else (int(np.prod(x.shape[1:])),)
    x_all = tf.constant(np.asarray(x, dtype="float32").reshape(n, *shape))
    one_hot = np.ndim(y) == 2 and np.shape(y)[1] > 1
    y_all = tf.constant(np.asarray(y, dtype="float32" if one_hot else "int32").reshape((n, -1) if one_hot else (n,)))
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(first.optimizer))
    optimizer.build(stacked.variables)
    steps = math.ceil(n / batch_size)

    @tf.function
    def train_epoch(order):
        loss_sum = tf.zeros([runs])
        correct = tf.zeros([runs])
        for step in tf.range(steps):
            idx = order[:, step * batch_size:(step + 1) * batch_size]
            xb, yb = tf.gather(x_all, idx), tf.gather(y_all, idx)
            with tf.GradientTape() as tape:
                outputs = stacked(xb)
                per_run = tf.reduce_mean(loss_fn(yb, outputs), axis=-1)
                total = tf.reduce_sum(per_run)
            grads = tape.gradient(total, stacked.variables)
            optimizer.apply(grads, stacked.variables)
            count = tf.cast(tf.shape(idx)[1], tf.float32)
            loss_sum += per_run * count
            correct += _accuracy_counts(yb, outputs, one_hot)
        return loss_sum / n, correct / n

    @tf.function
    def evaluate_chunk(xc, yc):
        outputs = stacked(xc)
        yr = tf.broadcast_to(yc[None], tf.concat([[runs], tf.shape(yc)], axis=0))
        losses = loss_fn(yr, outputs)
        return tf.reduce_sum(losses, axis=-1), _accuracy_counts(yr, outputs, one_hot)

    eval_sets = {}
    for name, (xe, ye) in evaluate.items():
        xe = np.asarray(xe, dtype="float32").reshape(len(xe), *shape)
        ye = np.asarray(ye, dtype="float32" if one_hot else "int32").reshape((len(ye), -1) if one_hot else (len(ye),))
        eval_sets[name] = (xe, ye)

    chunk = 512 if stacked.is_image else 4096

    def evaluate_all():
        results = {}
        for name, (xe, ye) in eval_sets.items():
            loss_total, correct_total = np.zeros(runs), np.zeros(runs)
            for start in range(0, len(xe), chunk):
                loss, correct = evaluate_chunk(tf.constant(xe[start:start + chunk]),
                                               tf.constant(ye[start:start + chunk]))
                loss_total += loss.numpy()
                correct_total += correct.numpy()
            results[name] = (loss_total / len(xe), correct_total / len(xe))
        return results

    generators = [np.random.default_rng(seed) for seed in seeds]
    rows = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = np.stack([g.permutation(n) for g in generators]).astype("int32")
        train_loss, train_accuracy = (t.numpy() for t in train_epoch(tf.constant(order)))
        scores = {"train": (train_loss, train_accuracy), **evaluate_all()}
        for split, (loss, accuracy) in scores.items():
            for r in range(runs):
                rows.append((r, epoch, split, "loss", float(loss[r])))
                rows.append((r, epoch, split, "accuracy", float(accuracy[r])))
    seconds = time.perf_counter() - start
    stacked.copy_to(models)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if verbose:
        last = frame[(frame.epoch == epochs) & (frame.metric == "accuracy")]
        for r in range(runs):
            scores = ", ".join(f"{row.split} accuracy {row.value:.4f}" for row in last[last.run == r].itertuples())
            print(f"run {r + 1}/{runs}: {scores}")
        print(f"({runs} runs trained together in one graph: {seconds:.1f} s)")
    return frame
