"""Reusable tests for the exercise checks: each raises :class:`~cnnlab.checks.core.Wrong` with a
precise message and a hint, or returns quietly.

Models are compared layer by layer through :func:`describe`, a short readable signature such as
``Conv2D(32, 3×3, relu, valid)``, so a check lists the expected layers the way the exercise states
them and a wrong answer is told the first layer that differs.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .core import Wrong


def get(namespace: Mapping, name: str, kind: type | tuple[type, ...] | None = None, what: str = "") -> Any:
    """``namespace[name]``, checked to be an instance of ``kind`` (``what`` names it for the message)."""
    if name not in namespace:
        raise Wrong(f"`{name}` is not defined", "define it as the exercise says, run that cell, then the check")
    value = namespace[name]
    if kind is not None and not isinstance(value, kind):
        raise Wrong(f"`{name}` should be {what or getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def _activation(layer) -> str:
    function = getattr(layer, "activation", None)
    name = getattr(function, "__name__", None) or str(function)
    return "linear" if function is None else name


def _pair(value) -> str:
    value = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    return "×".join(str(v) for v in value)


def describe(layer) -> str:
    """A layer's signature: its type and the settings an exercise states."""
    kind = type(layer).__name__
    if kind == "Dense":
        return f"Dense({layer.units}, {_activation(layer)})"
    if kind in ("Conv1D", "Conv2D"):
        text = f"{kind}({layer.filters}, {_pair(layer.kernel_size) if kind == 'Conv2D' else layer.kernel_size[0]}, " \
               f"{_activation(layer)}, {layer.padding}"
        strides = tuple(layer.strides)
        if any(s != 1 for s in strides):
            text += f", stride {_pair(strides) if kind == 'Conv2D' else strides[0]}"
        return text + ("" if layer.use_bias else ", no bias") + ")"
    if kind in ("MaxPooling2D", "AveragePooling2D", "MaxPooling1D"):
        text = f"{kind}({_pair(layer.pool_size)}"
        if tuple(layer.strides) != tuple(layer.pool_size):
            text += f", stride {_pair(layer.strides)}"
        return text + (", same)" if layer.padding == "same" else ")")
    if kind in ("Dropout", "SpatialDropout2D", "SpatialDropout1D"):
        return f"{kind}({layer.rate:g})"
    if kind == "Activation":
        return f"Activation({_activation(layer)})"
    if kind == "LeakyReLU":
        return f"LeakyReLU({layer.negative_slope:g})"
    return kind


def layers(model) -> list[str]:
    """:func:`describe` of every layer of ``model`` (the input layer is not a layer in Keras 3)."""
    return [describe(layer) for layer in model.layers]


def same_layers(model, expected: Sequence[str], name: str = "model") -> None:
    """``model``'s layers are exactly ``expected`` (signatures as :func:`describe` writes them)."""
    found = layers(model)
    for i, (have, want) in enumerate(zip(found, expected), start=1):
        if have != want:
            raise Wrong(f"layer {i} of `{name}` is {have}, expected {want}",
                        "compare your layers one by one with the exercise: type, size, kernel, activation, padding")
    if len(found) != len(expected):
        raise Wrong(f"`{name}` has {len(found)} layers, expected {len(expected)}: {', '.join(expected)}",
                    "every layer the exercise lists, in order, and nothing else")


def parameters(model, expected: int, name: str = "model") -> None:
    count = model.count_params()
    if count != expected:
        raise Wrong(f"`{name}` has {count:,} parameters, expected {expected:,}",
                    "a layer has the wrong size, or the input shape is not the images' shape")


def input_shape(model, expected: tuple, name: str = "model") -> None:
    have = tuple(model.input_shape[1:])
    if have != tuple(expected):
        raise Wrong(f"`{name}` takes inputs of shape {have}, expected {tuple(expected)}",
                    "keras.Input(shape=...) is the shape of one example, without the batch axis")


def _loss_name(loss) -> str:
    if isinstance(loss, str):
        return loss.lower()
    function = getattr(loss, "fn", loss)
    return getattr(function, "__name__", type(loss).__name__).lower()


LOSS_ALIASES = {"mse": "mean_squared_error", "meansquarederror": "mean_squared_error",
                "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy",
                "categoricalcrossentropy": "categorical_crossentropy"}


def compiled(model, *, optimizer: str | None = None, loss: str | None = None, from_logits: bool | None = None,
             metrics: Sequence[str] | None = None, name: str = "model", **optimizer_settings) -> None:
    """``model`` is compiled with this optimizer (class name, any case), loss, metrics and optimizer
    settings (``learning_rate=0.1``, ``momentum=0.9`` ...)."""
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise Wrong(f"`{name}` is not compiled", "call model.compile(optimizer=..., loss=..., metrics=[...])")
    if optimizer is not None and type(model.optimizer).__name__.lower() != optimizer.lower():
        raise Wrong(f"`{name}` uses the {type(model.optimizer).__name__} optimizer, expected {optimizer}")
    config = model.optimizer.get_config()
    for key, value in optimizer_settings.items():
        have = config.get(key)
        if have is None or not np.isclose(float(have), float(value), rtol=1e-6):
            raise Wrong(f"`{name}`'s optimizer has {key} = {have}, expected {value}",
                        f"pass {key}={value} to the optimizer")
    if loss is not None:
        have = LOSS_ALIASES.get(_loss_name(model.loss).replace("_", ""), _loss_name(model.loss))
        want = LOSS_ALIASES.get(loss.lower().replace("_", ""), loss.lower())
        if have != want:
            raise Wrong(f"`{name}` is compiled with the loss {have}, expected {want}")
    if from_logits is not None:
        have = bool(getattr(model.loss, "get_config", lambda: {})().get("from_logits", False))
        if have != from_logits:
            raise Wrong(f"`{name}`'s loss has from_logits={have}, expected {from_logits}",
                        "a model whose last layer has no softmax outputs logits: tell the loss so")
    if metrics is not None:
        have = [m if isinstance(m, str) else getattr(m, "name", str(m))
                for m in (model.get_compile_config().get("metrics") or [])]
        if [m.lower() for m in have] != [m.lower() for m in metrics]:
            raise Wrong(f"`{name}` reports the metrics {have}, expected {list(metrics)}")


def close(actual, expected, *, atol: float = 1e-6, rtol: float = 1e-5, what: str = "the result") -> None:
    """``actual`` has the shape of ``expected`` and equals it to within the tolerances."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    if actual.shape != expected.shape:
        raise Wrong(f"{what} has shape {actual.shape}, expected {expected.shape}")
    wrong = ~np.isclose(actual, expected, atol=atol, rtol=rtol, equal_nan=True)
    if wrong.any():
        gap = np.where(wrong, np.nan_to_num(np.abs(actual - expected), nan=np.inf), 0.0)
        worst = np.unravel_index(np.argmax(gap), actual.shape) if actual.shape else ()
        raise Wrong(f"{what} differs from the reference computation: at {tuple(int(i) for i in worst)} "
                    f"it is {actual[worst]:.6g} instead of {expected[worst]:.6g}")


def at_least(value: float, threshold: float | Mapping[str, float], what: str, hint: str = "") -> None:
    """``value >= threshold``; a threshold per profile (``{"smoke": ..., "cpu": ..., "full": ...}``)
    is read for the active profile."""
    if isinstance(threshold, Mapping):
        from ..config import profile_name

        threshold = threshold[profile_name()]
    if not value >= threshold:
        raise Wrong(f"{what} is {value:.4g}, expected at least {threshold:.4g}",
                    hint or "train with the settings the exercise gives and check the data you pass")


def equal(actual, expected, what: str, hint: str = "") -> None:
    if actual != expected:
        raise Wrong(f"{what} is {actual!r}, expected {expected!r}", hint)
