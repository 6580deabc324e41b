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

Supported models: ``keras.Sequential`` stacks of ``Flatten`` (first only) and ``Dense`` layers
(any activation, no regularizers or constraints), compiled with mean squared error or (sparse)
categorical cross-entropy and at most the ``accuracy`` metric. :func:`unsupported_reason` says
why any other model is left to the sequential path.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

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


def unsupported_reason(model) -> str | None:
    """``None`` when ``model`` can be trained stacked, else a sentence saying why not."""
    if not isinstance(model, keras.Sequential):
        return "only keras.Sequential models are stacked"
    if not getattr(model, "compiled", False):
        return "the model is not compiled"
    for i, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.Flatten) and i == 0:
            continue
        if not isinstance(layer, keras.layers.Dense):
            return f"layer {layer.name} ({type(layer).__name__}) is not Dense"
        if any(getattr(layer, attr, None) is not None for attr in (
                "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                "kernel_constraint", "bias_constraint")):
            return f"layer {layer.name} has a regularizer or constraint"
        if getattr(layer, "lora_rank", None):
            return f"layer {layer.name} uses LoRA"
    if len(model.inputs[0].shape) > 2 and not isinstance(model.layers[0], keras.layers.Flatten):
        return "a Dense layer on non-flat input needs a Flatten first"
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


class StackedDense:
    """R copies of a Flatten/Dense network with weights stacked on a leading run axis."""

    def __init__(self, models: list[keras.Model]):
        dense = [layer for layer in models[0].layers if isinstance(layer, keras.layers.Dense)]
        self.activations = [layer.activation for layer in dense]
        self.use_bias = [layer.use_bias for layer in dense]
        self.variables = []
        self.layers = []
        for i, layer in enumerate(dense):
            per_run = [[l for l in m.layers if isinstance(l, keras.layers.Dense)][i] for m in models]
            kernel = keras.Variable(np.stack([np.asarray(l.kernel) for l in per_run]), name=f"kernel_{i}")
            bias = (keras.Variable(np.stack([np.asarray(l.bias) for l in per_run]), name=f"bias_{i}")
                    if layer.use_bias else None)
            self.layers.append((kernel, bias))
            self.variables += [kernel] + ([bias] if bias is not None else [])

    def __call__(self, x):
        """``x``: (R, batch, features) for per-run batches, or (batch, features) shared by all runs."""
        h = x
        for (kernel, bias), activation in zip(self.layers, self.activations):
            if len(h.shape) == 2:
                h = tf.einsum("bi,rio->rbo", h, kernel)
            else:
                h = tf.matmul(h, kernel)
            if bias is not None:
                h = h + bias[:, None, :]
            h = activation(h)
        return h

    def copy_to(self, models: list[keras.Model]) -> None:
        """Write run r's weights into ``models[r]``."""
        for r, model in enumerate(models):
            dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
            for layer, (kernel, bias) in zip(dense, self.layers):
                layer.kernel.assign(kernel[r])
                if bias is not None:
                    layer.bias.assign(bias[r])


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
    from .training import COLUMNS  # late import: training imports this module

    first = models[0]
    loss_fn = LOSSES[_loss_name(first)]
    x, y = train
    n = len(x)
    features = int(np.prod(x.shape[1:]))
    x_all = tf.constant(np.asarray(x, dtype="float32").reshape(n, features))
    one_hot = np.ndim(y) == 2 and np.shape(y)[1] > 1
    y_all = tf.constant(np.asarray(y, dtype="float32" if one_hot else "int32").reshape((n, -1) if one_hot else (n,)))
    runs = len(models)
    stacked = StackedDense(models)
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
        xe = np.asarray(xe, dtype="float32").reshape(len(xe), features)
        ye = np.asarray(ye, dtype="float32" if one_hot else "int32").reshape((len(ye), -1) if one_hot else (len(ye),))
        eval_sets[name] = (xe, ye)

    def evaluate_all():
        results = {}
        for name, (xe, ye) in eval_sets.items():
            loss_total, correct_total = np.zeros(runs), np.zeros(runs)
            for start in range(0, len(xe), 4096):
                loss, correct = evaluate_chunk(tf.constant(xe[start:start + 4096]),
                                               tf.constant(ye[start:start + 4096]))
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
