"""Bench: does the schedule detector keep its false-alarm promise?

Monte Carlo of ``dsp.detect.schedule_glrt`` on three backgrounds, the same
data through the new detector (``method="null"``: detrended, AR(1)-prewhitened,
judged against code shifts that no SIM uses) and the old one (``method="iid"``,
the t-test that assumes independent samples), as the same-run reference:

* white: -90 dBm in the channel, 10 % Gaussian measurement noise per sample;
* bystander: the same plus a phone on the channel making calls, on/off with
  exponential periods of 20 s / 60 s (the simulator's interferer defaults),
  6 dB above the background when on, Rayleigh-faded per sample (the officer
  walks: the fading decorrelates within a sample);
* drift: the background drifts as the officer walks, a Gauss-Markov process
  in dB of 3 dB standard deviation (+-6 dB at 2 sigma) and 30 s correlation.

The schedule is an m-sequence of degree 6 (63 chips of 2 s, 126 s), sampled
twice a second, clock offset searched over +-``--max-lag`` s.  Under H1 the
target adds -100 dBm or -95 dBm (10 or 5 dB under the background) on its chips,
Rayleigh-faded.

Prints, per background, the measured false-alarm rate at each nominal pfa with
its 95 % Clopper-Pearson interval and the ratio to nominal, and the detection
probability at 1e-3; the old detector's figures beside the new.  Target: the
new detector's pfa within 2x nominal under bystanders and drift.

Run: .venv/bin/python bench/detect.py [--trials 20000] [--h1-trials 2000] [--max-lag 4]
"""

import argparse
import time

import numpy as np
import scipy.stats

from dsp.detect import m_sequence, schedule_at, schedule_glrt

SLOT_S = 2.0
SAMPLE_S = 0.5
BACKGROUND_MW = 1e-9          # -90 dBm
NOISE_REL = 0.1
TARGET_DBM = (-100.0, -95.0)  # 10 and 5 dB under the background
NOMINAL = (1e-2, 1e-3)


def _calls(rng, t, on_s=20.0, off_s=60.0):
    """On/off mask of a phone making calls (exponential periods, stationary start)."""
    on = np.zeros(t.size, dtype=bool)
    state = rng.random() < on_s / (on_s + off_s)
    edge = t[0] - rng.exponential(on_s if state else off_s)
    while edge <= t[-1]:
        d = rng.exponential(on_s if state else off_s)
        if state:
            on |= (t >= edge) & (t < edge + d)
        edge += d
        state = not state
    return on


def _gauss_markov(rng, t, tau_s):
    """Unit-variance first-order Gauss-Markov process at times t."""
    a = np.exp(-np.diff(t) / tau_s)
    w = rng.standard_normal(t.size)
    g = np.empty(t.size)
    g[0] = w[0]
    for k in range(1, t.size):
        g[k] = a[k - 1] * g[k - 1] + np.sqrt(1.0 - a[k - 1] ** 2) * w[k]
    return g


def background_mw(kind, rng, t):
    """One background power series, mW."""
    p = BACKGROUND_MW * (1.0 + rng.normal(0.0, NOISE_REL, t.size))
    if kind == "bystander":
        p = p + _calls(rng, t) * 4.0 * BACKGROUND_MW * rng.exponential(1.0, t.size)
    elif kind == "drift":
        p = p * 10.0 ** (3.0 * _gauss_markov(rng, t, 30.0) / 10.0)
    return p


def clopper_pearson(k, n, level=0.95):
    """Exact binomial interval for k successes in n trials."""
    a = (1.0 - level) / 2.0
    lo = scipy.stats.beta.ppf(a, k, n - k + 1) if k > 0 else 0.0
    hi = scipy.stats.beta.isf(a, k + 1, n - k) if k < n else 1.0
    return float(lo), float(hi)


def run(kind, trials, h1_trials, max_lag_s, seed):
    code = m_sequence(6)
    t = np.arange(0.0, code.size * SLOT_S, SAMPLE_S)
    rng = np.random.default_rng(seed)
    pfa = {m: np.empty(trials) for m in ("null", "iid")}
    for i in range(trials):
        p_dbm = 10.0 * np.log10(background_mw(kind, rng, t))
        for m in pfa:
            pfa[m][i] = schedule_glrt(t, p_dbm, code, SLOT_S, max_lag_s=max_lag_s,
                                      method=m)[1]["p_fa"]
    pd = {}
    for target_dbm in TARGET_DBM:
        lag_s = rng.uniform(-max_lag_s, max_lag_s, h1_trials)
        for m in ("null", "iid"):
            pd[target_dbm, m] = np.empty(h1_trials)
        for i in range(h1_trials):
            on = schedule_at(t - lag_s[i], code, SLOT_S)
            p = background_mw(kind, rng, t) + 10.0 ** (target_dbm / 10.0) * on * rng.exponential(
                1.0, t.size)
            for m in ("null", "iid"):
                pd[target_dbm, m][i] = schedule_glrt(t, 10.0 * np.log10(p), code, SLOT_S,
                                                     max_lag_s=max_lag_s, method=m)[1]["p_fa"]
    return pfa, pd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20000,
                        help="noise-only trials per background (default 20000)")
    parser.add_argument("--h1-trials", type=int, default=2000,
                        help="trials with the target on per background (default 2000)")
    parser.add_argument("--max-lag", type=float, default=4.0,
                        help="clock offset searched, +- s (default 4)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    print(f"schedule_glrt: m-sequence degree 6, {SLOT_S:g} s chips, {1 / SAMPLE_S:g} samples/s, "
          f"lag search +-{args.max_lag:g} s; {args.trials} noise-only and {args.h1_trials} "
          "target trials per background")
    print(f"{'background':<10} {'nominal':>8} {'detector':>9} {'measured pfa':>13} "
          f"{'95 % interval':>22} {'x nominal':>9}")
    summary = []
    for k, kind in enumerate(("white", "bystander", "drift")):
        t0 = time.perf_counter()
        pfa, pd = run(kind, args.trials, args.h1_trials, args.max_lag, args.seed + k)
        elapsed = time.perf_counter() - t0
        for nominal in NOMINAL:
            for m, label in (("null", "new"), ("iid", "old")):
                hits = int(np.sum(pfa[m] <= nominal))
                lo, hi = clopper_pearson(hits, args.trials)
                print(f"{kind:<10} {nominal:>8.0e} {label:>9} {hits / args.trials:>13.5f} "
                      f"[{lo:.5f}, {hi:.5f}]  {hits / args.trials / nominal:>9.2f}")
        pd_txt = []
        for target_dbm in TARGET_DBM:
            pd_new = float(np.mean(pd[target_dbm, "null"] <= 1e-3))
            pd_old = float(np.mean(pd[target_dbm, "iid"] <= 1e-3))
            pd_txt.append(f"{target_dbm:.0f} dBm {pd_new:.3f} ({pd_old:.3f})")
        print(f"{kind:<10} detection probability at 1e-3, new (old), +-"
              f"{1.96 * np.sqrt(0.25 / args.h1_trials):.3f}: " + ", ".join(pd_txt)
              + f"  [{elapsed:.0f} s]")
        summary.append((kind, float(np.mean(pfa["null"] <= 1e-3)) / 1e-3,
                        float(np.mean(pfa["iid"] <= 1e-3)) / 1e-3, "; ".join(pd_txt)))
    print("\nat nominal 1e-3: measured/nominal new (old); Pd new (old)")
    for kind, r_new, r_old, pd_txt in summary:
        print(f"  {kind:<10} {r_new:6.2f}x ({r_old:6.2f}x); Pd {pd_txt}")

if __name__ == "__main__":
    main()
