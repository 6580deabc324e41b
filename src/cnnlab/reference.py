"""A convolution written from scratch in NumPy: assignment 3's manual convolution, kept here with
unit tests against ``keras.layers.Conv2D`` (the notebook shows this code as its solution).

It is deliberately plain: :func:`conv2d` walks the batch, output channels, rows, columns and
input channels with Python loops, the way the operation is defined, so it is slow but easy to
read. Arrays are channels-last, the Keras layout: images ``(N, H, W, C)`` and kernels
``(kh, kw, c_in, c_out)``, exactly what ``layer.get_weights()`` returns.
"""

from __future__ import annotations

import numpy as np


def output_size(size: int, kernel: int, stride: int = 1) -> int:
    """Number of positions a window of ``kernel`` pixels fits into ``size`` pixels, moving by
    ``stride`` (VALID padding): ``(size - kernel) // stride + 1``."""
    if kernel > size:
        raise ValueError(f"a kernel of {kernel} pixels does not fit into {size} pixels with VALID padding")
    return (size - kernel) // stride + 1


def conv2d(images, kernel, bias=None, stride: int = 1) -> np.ndarray:
    """2-D convolution (cross-correlation, as in every deep-learning library) with VALID padding.

    ``images`` has shape ``(N, H, W, C_in)``, ``kernel`` ``(kh, kw, C_in, C_out)`` (any kh×kw),
    ``bias`` ``(C_out,)`` or ``None``; ``stride`` is the step in both directions. Output pixel
    ``(b, i, j, o)`` is the sum over the input channels ``c`` of the ``kh×kw`` window of channel
    ``c`` that starts at row ``i*stride`` and column ``j*stride``, multiplied elementwise by
    ``kernel[:, :, c, o]``. The result has shape ``(N, H_out, W_out, C_out)`` with
    ``H_out = (H - kh) // stride + 1`` (likewise ``W_out``), the shape of
    ``keras.layers.Conv2D(C_out, (kh, kw), strides=stride, padding="valid")``.
    """
    images = np.asarray(images, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C_in), got shape {images.shape}")
    if kernel.ndim != 4:
        raise ValueError(f"expected a kernel of shape (kh, kw, C_in, C_out), got shape {kernel.shape}")
    n, height, width, c_in = images.shape
    kh, kw, k_in, c_out = kernel.shape
    if k_in != c_in:
        raise ValueError(f"the kernel expects {k_in} input channels (shape {kernel.shape}) but the "
                         f"images have {c_in} (shape {images.shape})")
    if not (isinstance(stride, (int, np.integer)) and stride >= 1):
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        if bias.shape != (c_out,):
            raise ValueError(f"expected a bias of shape ({c_out},), got shape {bias.shape}")
    h_out, w_out = output_size(height, kh, stride), output_size(width, kw, stride)

    out = np.zeros((n, h_out, w_out, c_out))
    for b in range(n):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    total = 0.0 if bias is None else bias[o]
                    for c in range(c_in):
                        window = images[b, i * stride:i * stride + kh, j * stride:j * stride + kw, c]
                        total += np.sum(window * kernel[:, :, c, o])
                    out[b, i, j, o] = total
    return out

