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

Which path ``multirun.repeated_runs`` takes by itself (:func:`preferred`): every supported model
of plain layers (Dense, Conv2D, pooling, Flatten, activations) with more than one run, and dense
stacks even for a single run (ten 784-32-10 perceptrons: about 12x faster than a ``fit`` loop; three
Q9 convnets 1.4-1.5x, see ``benchmarks/repeated_runs.py``). A single convnet run has nothing to
stack and keeps ``model.fit``. Models with dropout, batch normalisation, augmentation or global
pooling are stacked only when asked (``method="stacked"``) until their speed is measured.
"""

from __future__ import annotations

import keras

from .stacked_rules import INPUT_LAYERS, flat_layers, mismatch_reason, unsupported_reason
from .stacked_train import train_stacked

__all__ = ["mismatch_reason", "not_preferred_reason", "preferred", "train_stacked", "unsupported_reason"]


def _has_convolutions(model) -> bool:
    return any(isinstance(layer, keras.layers.Conv2D) for layer in flat_layers(model))


NOT_YET_MEASURED = (keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.BatchNormalization,
                    keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D) + INPUT_LAYERS


def not_preferred_reason(model, runs: int) -> str | None:
    """Why ``repeated_runs`` would not stack ``runs`` runs of a supported ``model`` by itself (see
    the rules in the module docstring), or ``None`` when it would."""
    if runs == 1 and _has_convolutions(model):
        return "a single convnet run has nothing to stack"
    for layer in flat_layers(model):
        if isinstance(layer, NOT_YET_MEASURED):
            return f"stacking {type(layer).__name__} layers is not yet measured to be faster"
    return None


def preferred(model, runs: int) -> bool:
    """Whether ``repeated_runs`` should stack ``runs`` copies of this model by itself: the model is
    supported and stacking it was measured to be no slower (module docstring)."""
    return unsupported_reason(model) is None and not_preferred_reason(model, runs) is None
