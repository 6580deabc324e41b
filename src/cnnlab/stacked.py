"""Train R independent runs of one network in one compiled TensorFlow graph (the stacked engine).

Training ten 784-32-10 perceptrons one after another with ``model.fit`` spends almost all its time
in per-step overhead (Python, callbacks, launching tiny kernels), not in arithmetic. Here the R
runs become one network whose weights carry the runs side by side (dense kernels
``(R, inputs, units)``, convolution kernels concatenated into one grouped convolution; see
:mod:`cnnlab.stacked_layers`), and a whole epoch, every step of every run, is one call into a
compiled ``tf.function`` (:mod:`cnnlab.stacked_train`).

What stays exactly as with R separate runs (``tests/test_stacked*.py`` compare a stacked training
step by step with ``train_on_batch`` on each run's own Keras model):

* **initial weights**: the R Keras models are built with the same per-run seeds as the sequential
  path and their weights are copied, so run ``r`` starts from the very weights it would have
  started from there;
* **loss and gradients**: the total loss is the *sum* of the runs' mean batch losses, so each
  run's gradient is exactly the gradient of its own loss (runs share no weights);
* **optimizer state**: one optimizer of the model's class and configuration updates the stacked
  variables; the supported optimizers work element by element (momentum, Adam's moments), so each
  run keeps its own state;
* **randomness**: each run's ``Dropout`` and ``SpatialDropout2D`` masks are drawn by that run's own
  Keras layer's seed generator with that run's own rate, exactly as the layer draws them in
  ``fit``; augmentation (``RandomFlip``, ``RandomTranslation``) and ``Normalization``/``Rescaling``
  at the input are each run's own Keras layers applied to that run's batch; all are identities at
  evaluation, as in Keras;
* **batch normalisation**: each run normalises with its own batch statistics in training and keeps
  its own moving mean and variance (the layer's momentum, epsilon, center and scale); evaluation
  uses the moving statistics, which are copied back into each Keras model with the weights;
* **reported metrics**: training loss and accuracy are averaged over the epoch as ``fit`` reports
  them; evaluation uses the same Keras loss functions on the whole evaluation set.

What differs: each run's batch order comes from its own NumPy generator (seeded per run) instead
of TensorFlow's shuffling inside ``fit``, so a run is a different, equally random draw than the
sequential path would make with the same seed; and floating-point sums are taken in a different
order, so numbers agree with ``fit`` in distribution, not bit for bit.

Supported (:mod:`cnnlab.stacked_rules` says why anything else is not): ``keras.Sequential`` models
(nested ``Sequential`` blocks such as an augmentation block are opened) of ``Conv2D`` (any strides,
``valid``/``same`` padding), ``MaxPooling2D``/``AveragePooling2D``, ``GlobalAveragePooling2D``/
``GlobalMaxPooling2D``, ``Flatten``, ``Dense``, ``Dropout``, ``SpatialDropout2D``,
``BatchNormalization``, ``Activation``/``ReLU``/``LeakyReLU``/``ELU`` layers and element-wise
activation arguments (softmax only once features are flat), with ``Normalization``, ``Rescaling``,
``RandomFlip`` and ``RandomTranslation`` at the input; mean squared error or (sparse) categorical
cross-entropy, from probabilities or logits; at most the accuracy metric; SGD, Adam, AdamW,
Adadelta, Adagrad, Adamax, Nadam, RMSprop, Lion or Ftrl. The R models must have the same layers
and settings except for their dropout rates, so a rate sweep (``multirun.compare_runs``) trains
in one graph, each run with its own rate. Refused, with the reason: label smoothing and other loss
options, optimizers that read whole weight tensors (Adafactor, Lamb, Muon, ...), gradient clipping
by norm, EMA and gradient accumulation, activations that act across channels in image layers,
frozen layers, regularizers and constraints, mixed precision, and any other layer.

Which path ``multirun.repeated_runs`` takes by itself (:func:`preferred`; ``method="stacked"``
forces the engine on any supported model):

1. a model without convolutions (perceptrons, with or without dropout and batch norm) is stacked,
   even for a single run: its steps are tiny and a ``fit`` step is mostly overhead;
2. a single convnet run has nothing to stack and keeps ``model.fit``;
3. a convnet with more than one run is stacked when one image's forward pass costs at most
   :data:`STACKED_MACS_LIMIT` (80 million) multiply-adds (:func:`forward_macs`), and keeps ``fit``
   above, where a step is bound by the convolutions' arithmetic, which stacking does not reduce.

The rule follows the measurements in ``benchmarks/stacked_results.md`` (``benchmarks/
repeated_runs.py``, 2026-11-30, 2 CPU cores shared with other jobs, medians of two back-to-back
pairs, one epoch): stacked where the whole call (what a notebook pays: tracing, training,
evaluation) measured about 1.2x faster or more, ``fit`` otherwise. Speed-up in wall time (CPU
seconds of the process in brackets), per million multiply-adds (M) of one image's forward pass:

* ten 784-32-10 perceptrons (0.025M), 60,000 MNIST images: 4.3x (3.7x) over the sequential path
  with ``steps_per_execution``, 9.6x (8.9x) over a plain ``fit`` loop;
* Assignment 3's base model (``gap_cnn()``, 0.7M), 9,600 CIFAR-10 images: R = 3 2.05x (1.94x),
  R = 5 2.08x (1.97x); its H1 (2.5M): 1.51x (1.47x) and 1.35x (1.32x);
* Assignment 2's convnet with its dropout (16M), 6,000 MNIST images: 1.58x (1.18x), 1.62x (1.23x);
* Assignment 4's dropout network (103M), 2,400 CIFAR-10 images: 1.14x (1.04x), 1.01x (0.97x),
  and 0.85-0.91x in steady training: no faster, so it keeps ``fit``.

Earlier runs of the benchmark the same day (whole call only, 2,000 images) put Assignment 4's
better model (39M; augmentation, batch norm, dropout) at 1.3-1.4x in CPU seconds and its past
improved model (70M; batch norm, spatial dropout) at 1.2x, which places the limit between 70M and
103M. With the warm-up excluded, the convnets gain less (A2 1.07-1.23x, H1 0.92-1.10x, A3 base
1.2-1.4x): most of what stacking saves on a convnet is the tracing of one training and one
evaluation function per run and ``fit``'s per-step overhead, so over many epochs (``full``)
Assignment 2's convnet and H1 train stacked at about the speed of ``fit``, not slower.
"""

from __future__ import annotations

import math

import keras

from .stacked_rules import flat_layers, mismatch_reason, unsupported_reason
from .stacked_train import train_stacked

__all__ = [
    "forward_macs",
    "mismatch_reason",
    "not_preferred_reason",
    "preferred",
    "train_stacked",
    "unsupported_reason",
]


STACKED_MACS_LIMIT = 80_000_000  # multiply-adds per example above which convnets keep fit


def forward_macs(model) -> int:
    """Multiply-adds of one example's forward pass through the model's Conv2D and Dense layers."""
    total = 0
    for layer in flat_layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, channels, _ = layer.kernel.shape
            total += math.prod(layer.output.shape[1:]) * kh * kw * channels
        elif isinstance(layer, keras.layers.Dense):
            total += math.prod(layer.kernel.shape)
    return int(total)


def not_preferred_reason(model, runs: int) -> str | None:
    """Why ``repeated_runs`` would not stack ``runs`` runs of a supported ``model`` by itself (the
    rules and measurements are in the module docstring), or ``None`` when it would."""
    if not any(isinstance(layer, keras.layers.Conv2D) for layer in flat_layers(model)):
        return None
    if runs == 1:
        return "a single convnet run has nothing to stack"
    macs = forward_macs(model)
    if macs > STACKED_MACS_LIMIT:
        return (
            f"a convnet of {macs / 1e6:.0f}M multiply-adds per image is bound by its arithmetic, "
            f"which stacking does not reduce (measured no faster above {STACKED_MACS_LIMIT / 1e6:.0f}M)"
        )
    return None


def preferred(model, runs: int) -> bool:
    """Whether ``repeated_runs`` should stack ``runs`` copies of this model by itself: the model is
    supported and stacking it was measured to be no slower (module docstring)."""
    return unsupported_reason(model) is None and not_preferred_reason(model, runs) is None
