"""Speed of dsp.locate: live heat-map updates and batch estimates.

Prints, with the reference measured in the same run:

* the time to add one reading to a 256 x 256 `LiveLocator` and recompute its
  posterior (target < 2 ms), against one `numpy.exp` over the 65,536 cells;
* a batch `estimate_position` over 5,000 readings (target < 1 s), against one
  evaluation of the log-distance model over all readings and cells.

Run: ``.venv/bin/python bench/locate_speed.py``.
"""

import time

import numpy as np

from dsp.locate import Grid, LiveLocator, estimate_position


def median_time(fn, repeat):
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return float(np.median(t))


def walk(rng, n):
    """A random walk of n readings, 1.5 m apart, around a rack at (20, 30)."""
    heading = np.cumsum(rng.normal(0.0, 0.3, n))
    x = np.cumsum(1.5 * np.sin(heading)) - 100.0
    y = np.cumsum(1.5 * np.cos(heading)) - 100.0
    d = np.maximum(np.hypot(x - 20.0, y - 30.0), 1.0)
    return x, y, -20.0 - 32.0 * np.log10(d) + rng.normal(0.0, 6.0, n)


def main():
    rng = np.random.default_rng(7)
    grid = Grid(np.linspace(-200.0, 200.0, 256), np.linspace(-200.0, 200.0, 256))
    live = LiveLocator(grid)
    x, y, p = walk(rng, 600)
    for i in range(100):
        live.add(x[i], y[i], p[i])
    i = iter(range(100, 600))

    def update():
        k = next(i)
        live.add(x[k], y[k], p[k])
        live.posterior()
    t_live = median_time(update, 400)
    cells = rng.normal(size=grid.shape[0] * grid.shape[1])
    t_exp = median_time(lambda: np.exp(cells), 200)
    print(f"live 256x256: add one reading + posterior  {t_live * 1e3:7.3f} ms  (target < 2 ms)  "
          f"= {t_live / t_exp:5.1f} x one np.exp over the cells ({t_exp * 1e3:.3f} ms)")

    n = 5000
    x, y, p = walk(rng, n)
    p[p < -110.0] = np.nan
    t_batch = median_time(lambda: estimate_position(x, y, p, noise_floor_dbm=-110.0), 3)
    gx, gy = Grid.around(x, y).cells()
    det = np.isfinite(p)

    def model_once():
        return -10.0 * np.log10(np.hypot(gx[:, None] - x[det], gy[:, None] - y[det]))
    t_model = median_time(model_once, 3)
    est = estimate_position(x, y, p, noise_floor_dbm=-110.0)
    print(f"batch estimate, {n} readings ({(~det).sum()} not detected), 64x64 grid: "
          f"{t_batch:6.3f} s  (target < 1 s)  = {t_batch / t_model:5.1f} x one model evaluation "
          f"over readings x cells ({t_model:.3f} s); error "
          f"{np.hypot(est.x_m - 20.0, est.y_m - 30.0):.1f} m")


if __name__ == "__main__":
    main()
