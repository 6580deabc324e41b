"""What the stacked engine (:mod:`cnnlab.stacked`) can train exactly, and why it refuses the rest.

:func:`unsupported_reason` reads one compiled model; :func:`mismatch_reason` checks that the R models
of one stacked experiment differ at most in their dropout rates and random seeds. Both return
``None`` or a sentence that ``multirun.repeated_runs`` prints (and raises when ``method="stacked"``
is forced). :func:`loss_function` gives the Keras loss the engine trains with.
"""

from __future__ import annotations

import keras

LOSSES = {
    "mean_squared_error": keras.losses.mean_squared_error,
    "sparse_categorical_crossentropy": keras.losses.sparse_categorical_crossentropy,
    "categorical_crossentropy": keras.losses.categorical_crossentropy,
}
LOSS_ALIASES = {"mse": "mean_squared_error"}
ACCURACY = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")

# Optimizers whose update of each weight reads only that weight, its gradient and its own slots
# (momentum, moments): one optimizer over the stacked variables keeps the runs independent.
ELEMENTWISE_OPTIMIZERS = ("SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "Adamax", "Nadam", "RMSprop", "Lion", "Ftrl")
COUPLING_OPTIMIZER_SETTINGS = ("clipnorm", "global_clipnorm", "use_ema", "gradient_accumulation_steps")

# Activations computed element by element; softmax-like ones act along the last axis, which is
# per run only once features are flat (run r's channels sit side by side in an image tensor).
ELEMENTWISE_ACTIVATIONS = {
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "swish",
    "hard_silu",
    "hard_swish",
    "sigmoid",
    "hard_sigmoid",
    "log_sigmoid",
    "tanh",
    "hard_tanh",
    "softplus",
    "softsign",
    "exponential",
    "mish",
    "soft_shrink",
    "hard_shrink",
    "tanh_shrink",
    "squareplus",
    "sparse_plus",
    "sparse_sigmoid",
}
ROWWISE_ACTIVATIONS = {"softmax", "log_softmax"}
ELEMENTWISE_LAYERS = (keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU)

# Layers applied to each run's own input batch by that run's own Keras layer (before any weights)
INPUT_LAYERS = (
    keras.layers.Normalization,
    keras.layers.Rescaling,
    keras.layers.RandomFlip,
    keras.layers.RandomTranslation,
)
POOLS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
GLOBAL_POOLS = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)
DROPOUTS = (keras.layers.Dropout, keras.layers.SpatialDropout2D)
NOT_STRUCTURAL = ("name", "seed", "rate", "trainable")  # config keys runs may differ in


def flat_layers(model) -> list:
    """The model's layers in order, nested ``Sequential`` blocks (e.g. an augmentation block) opened."""
    found = []
    for layer in model.layers:
        found += flat_layers(layer) if isinstance(layer, keras.Sequential) else [layer]
    return found


def _activation_kind(activation) -> str | None:
    """``"elementwise"``, ``"rowwise"`` or ``None`` (unknown: not stacked)."""
    if activation is None:
        return "elementwise"
    if isinstance(activation, keras.layers.Layer):
        if type(activation) in ELEMENTWISE_LAYERS:
            return "elementwise"
        if isinstance(activation, keras.layers.Activation):
            return _activation_kind(activation.activation)
        return None
    name = getattr(activation, "__name__", None)
    if name in ELEMENTWISE_ACTIVATIONS:
        return "elementwise"
    if name in ROWWISE_ACTIVATIONS:
        return "rowwise"
    return None


def _activation_reason(layer, activation, flat: bool) -> str | None:
    kind = _activation_kind(activation)
    if kind == "elementwise" or (kind == "rowwise" and flat):
        return None
    name = getattr(activation, "__name__", type(activation).__name__)
    if kind == "rowwise":
        return (
            f"layer {layer.name}: activation {name} acts across channels, which would mix the runs "
            f"(stacked image layers need an element-wise activation)"
        )
    return f"layer {layer.name}: activation {name} is not known to act element by element"


def _weights_reason(layer) -> str | None:
    for attr in (
        "kernel_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "beta_regularizer",
        "gamma_regularizer",
        "kernel_constraint",
        "bias_constraint",
        "beta_constraint",
        "gamma_constraint",
    ):
        if getattr(layer, attr, None) is not None:
            return f"layer {layer.name} has a regularizer or constraint ({attr})"
    if layer.weights and not layer.trainable and not isinstance(layer, INPUT_LAYERS):
        return f"layer {layer.name} is frozen (trainable=False)"
    if layer.dtype_policy.compute_dtype != "float32":
        return f"layer {layer.name} computes in {layer.dtype_policy.compute_dtype}: only float32 is stacked"
    return None


def _layer_reason(layer, stage: str) -> tuple[str | None, str]:
    """(reason or None, stage after the layer); stage is ``"input"`` (no weighted layer yet),
    ``"image"`` (channels-last feature maps) or ``"flat"`` (one feature vector per example)."""
    kind = type(layer).__name__
    reason = _weights_reason(layer)
    if reason:
        return reason, stage
    image = stage in ("input", "image")
    channels_last = getattr(layer, "data_format", "channels_last") == "channels_last"
    if not channels_last:
        return f"layer {layer.name} ({kind}) is channels-first: only channels-last is stacked", stage
    if isinstance(layer, INPUT_LAYERS):
        if stage != "input":
            return (
                f"layer {layer.name} ({kind}) comes after a weighted layer: augmentation and "
                f"normalization are stacked only at the input"
            ), stage
        if isinstance(layer, keras.layers.Normalization) and layer.invert:
            return f"layer {layer.name}: an inverted Normalization is not stacked", stage
        return None, stage
    if type(layer) is keras.layers.Conv2D:
        if not image:
            return f"layer {layer.name} (Conv2D) comes after the features were flattened", stage
        if layer.groups != 1 or tuple(layer.dilation_rate) != (1, 1):
            return f"layer {layer.name}: only ungrouped, undilated Conv2D is stacked", stage
        if getattr(layer, "lora_rank", None):
            return f"layer {layer.name} uses LoRA", stage
        return _activation_reason(layer, layer.activation, flat=False), "image"
    if type(layer) is keras.layers.Dense:
        if image:
            return f"layer {layer.name} (Dense) needs flat input: add a Flatten before it", stage
        if getattr(layer, "lora_rank", None):
            return f"layer {layer.name} uses LoRA", stage
        return _activation_reason(layer, layer.activation, flat=True), stage
    if type(layer) in POOLS or type(layer) is keras.layers.SpatialDropout2D:
        if not image:
            return f"layer {layer.name} ({kind}) needs image input", stage
        return None, stage
    if type(layer) in GLOBAL_POOLS:
        if not image or layer.keepdims:
            return f"layer {layer.name} ({kind}) needs image input and keepdims=False", stage
        return None, "flat"
    if type(layer) is keras.layers.Flatten:
        return None, "flat"
    if type(layer) is keras.layers.Dropout:
        if layer.noise_shape is not None:
            return f"layer {layer.name}: Dropout with a noise_shape is not stacked", stage
        return None, stage
    if type(layer) is keras.layers.BatchNormalization:
        if layer.renorm or layer.axis not in (-1, len(layer.input.shape) - 1):
            return f"layer {layer.name}: only BatchNormalization over the last axis, without renorm, is stacked", stage
        return None, stage
    if type(layer) is keras.layers.Activation:
        return _activation_reason(layer, layer.activation, flat=not image), stage
    if type(layer) in ELEMENTWISE_LAYERS:
        return None, stage
    if type(layer) is keras.layers.Softmax:
        if image or tuple(layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]) != (-1,):
            return f"layer {layer.name}: Softmax acts across channels, which would mix the runs", stage
        return None, stage
    return f"layer {layer.name} ({kind}) is not stacked", stage


def loss_function(model):
    """``(function, keyword arguments)`` of the model's loss, or a reason string when not stacked."""
    loss = model.loss
    options = {}
    if isinstance(loss, str):
        name = LOSS_ALIASES.get(loss, loss)
    # a Loss object such as SparseCategoricalCrossentropy(...): its function and options
    elif isinstance(loss, keras.losses.Loss) and callable(getattr(loss, "fn", None)):
        name = getattr(loss.fn, "__name__", None)
        config = loss.get_config()
        if config.get("reduction") != "sum_over_batch_size":
            return f"loss reduction {config.get('reduction')!r} is not stacked"
        if config.get("label_smoothing"):
            return f"label smoothing ({config['label_smoothing']}) is not stacked"
        if config.get("ignore_class") is not None:
            return "a loss with ignore_class is not stacked"
        if config.get("axis", -1) != -1:
            return "a loss over another axis than the last is not stacked"
        if config.get("from_logits"):
            options["from_logits"] = True
    elif callable(loss):
        name = getattr(loss, "__name__", None)
    else:
        name = None
    if name not in LOSSES:
        return f"loss {model.loss!r} is not one of {sorted(LOSSES)}"
    return LOSSES[name], options


def _compile_reason(model) -> str | None:
    resolved = loss_function(model)
    if isinstance(resolved, str):
        return resolved
    config = model.get_compile_config()
    metrics = config.get("metrics") or []
    if any(m not in ACCURACY for m in metrics) or config.get("weighted_metrics"):
        return f"metrics {metrics!r}: only 'accuracy' is supported"
    if config.get("loss_weights"):
        return "loss weights are not supported"
    optimizer = model.optimizer
    if type(optimizer).__name__ not in ELEMENTWISE_OPTIMIZERS or type(optimizer).__module__.split(".")[0] != "keras":
        return (
            f"optimizer {type(optimizer).__name__} is not stacked: only optimizers that update each "
            f"weight from its own gradient are ({', '.join(ELEMENTWISE_OPTIMIZERS)}); others read whole "
            f"weight tensors (norms, factored moments, orthogonalisation), which would mix the runs"
        )
    optimizer_config = optimizer.get_config()
    for key in COUPLING_OPTIMIZER_SETTINGS:
        if optimizer_config.get(key):
            return f"optimizer setting {key}={optimizer_config[key]!r} would couple the runs"
    return None


def unsupported_reason(model) -> str | None:
    """``None`` when ``model`` can be trained stacked, else a sentence saying why not."""
    if not isinstance(model, keras.Sequential):
        return "only keras.Sequential models are stacked"
    if not getattr(model, "compiled", False):
        return "the model is not compiled"
    if not model.trainable:
        return "the model is frozen (trainable=False)"
    rank = len(model.inputs[0].shape)
    if rank not in (2, 3, 4):
        return f"input shape {model.inputs[0].shape} is neither flat nor an image"
    stage = "flat" if rank == 2 else "input"
    layers = flat_layers(model)
    if not any(isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)) for layer in layers):
        return "the model has no Dense or Conv2D layer to train"
    for layer in layers:
        reason, stage = _layer_reason(layer, stage)
        if reason:
            return reason
    return _compile_reason(model)


def _structure(model) -> list:
    """The model's layers and compile settings with the per-run differences (names, seeds, dropout
    rates) left out."""
    layers = []
    for layer in flat_layers(model):
        config = {k: v for k, v in layer.get_config().items() if k not in NOT_STRUCTURAL}
        layers.append((type(layer).__name__, config))
    compile_config = model.get_compile_config()
    optimizer = dict(compile_config.get("optimizer", {}).get("config", {}))
    optimizer.pop("name", None)
    return [layers, compile_config.get("loss"), compile_config.get("metrics"), optimizer, tuple(model.inputs[0].shape)]


def mismatch_reason(models: list) -> str | None:
    """``None`` when the models have the same layers and training settings (dropout rates and
    random seeds may differ: each run uses its own), else which run differs and in what."""
    first = _structure(models[0])
    parts = ("layers", "loss", "metrics", "optimizer settings", "input shape")
    for run, model in enumerate(models[1:], start=1):
        other = _structure(model)
        for part, mine, theirs in zip(parts, first, other):
            if repr(mine) != repr(theirs):
                return f"run {run} differs from run 0 in its {part}: only dropout rates and seeds may differ"
    return None
