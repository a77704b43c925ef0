"""Input checks at the door of the DSP functions: one clear ValueError naming the parameter."""

import numpy as np


def as_1d_float(x, name):
    """`x` as a 1-D float array of finite real numbers, or ValueError naming `name`."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} contains NaN or infinite values (first at index {i})")
    return arr
