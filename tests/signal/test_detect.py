"""Schedule GLRT and CFAR: false alarms at the nominal rate, detection at stated SNRs.

The schedule detector is checked on white noise against Student/noncentral t, and on the
two backgrounds that broke the independent-samples t-test: a bystander's faded calls
(20 s on / 60 s off) and a background drifting as the officer walks.
"""

import numpy as np
import pytest
import scipy.stats

from dsp.detect import (BurstDetector, ScheduleDetector, cfar_bursts, m_sequence, schedule_at,
                        schedule_glrt, sim_codes)

SLOT_S = 2.0
CODE = m_sequence(6)                      # 63 slots
TIME_S = np.arange(0.0, 126.0, 1.0)       # one period, two samples per slot
B_MW = 1e-9                                # other phones + noise, -90 dBm
SIGMA_MW = 1e-10


@pytest.mark.parametrize("degree", range(2, 13))
def test_m_sequence_is_maximal(degree):
    s = m_sequence(degree)
    n = 2 ** degree - 1
    assert s.size == n and int(s.sum()) == 2 ** (degree - 1)
    # Two-valued periodic autocorrelation of +-1 chips: n at 0, -1 elsewhere.
    x = 2.0 * s - 1.0
    ac = np.real(np.fft.ifft(np.abs(np.fft.fft(x)) ** 2))
    np.testing.assert_allclose(ac, np.r_[n, -np.ones(n - 1)], atol=1e-6)


def test_sim_codes_are_nearly_orthogonal():
    codes = sim_codes(4, 7).astype(float)
    c = codes - codes.mean(axis=1, keepdims=True)
    gram = c @ c.T / np.diag(c @ c.T)[0]
    # Centred 0/1 shifts: inner product -2**(d-2)/N over variance -> -1/(N - 1).
    np.testing.assert_allclose(gram[~np.eye(4, dtype=bool)], -1 / 126, atol=1e-9)


def _calls(rng, t, on_s=20.0, off_s=60.0):
    """On/off mask of a bystander's calls, exponential periods, stationary start."""
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


def _drift_db(rng, t, sigma_db=3.0, tau_s=30.0):
    """Gauss-Markov shadowing in dB along the officer's walk."""
    a = np.exp(-np.diff(t) / tau_s)
    w = rng.standard_normal(t.size)
    g = np.empty(t.size)
    g[0] = w[0]
    for k in range(1, t.size):
        g[k] = a[k - 1] * g[k - 1] + np.sqrt(1.0 - a[k - 1] ** 2) * w[k]
    return sigma_db * g


def _background_mw(kind, rng, t):
    p = B_MW + rng.normal(0.0, SIGMA_MW, t.size)
    if kind == "bystander":        # 6 dB above the background when on, Rayleigh-faded
        return p + _calls(rng, t) * 4 * B_MW * rng.exponential(1.0, t.size)
    if kind == "drift":
        return p * 10 ** (_drift_db(rng, t) / 10)
    return p


@pytest.mark.parametrize("method", ["null", "iid"])
@pytest.mark.parametrize("max_lag_s", [0.0, 4.0, 8.0])
def test_false_alarm_rate_within_factor_2(max_lag_s, method):
    rng = np.random.default_rng(int(max_lag_s) + 11)
    trials, pfa = 2000, 0.01
    alarms = 0
    for _ in range(trials):
        p_mw = B_MW + rng.normal(0.0, SIGMA_MW, TIME_S.size)
        _, props = schedule_glrt(TIME_S, 10 * np.log10(p_mw), CODE, SLOT_S,
                                 max_lag_s=max_lag_s, pfa=pfa, method=method)
        alarms += props["detected"]
    assert pfa / 2 <= alarms / trials <= pfa * 2


@pytest.mark.parametrize("kind", ["bystander", "drift"])
def test_false_alarm_rate_holds_under_dependent_backgrounds(kind):
    # Two samples a second over a 63-chip code, lag search +-4 s.  The
    # independent-samples t-test alarms 10-25x too often here (bench/detect.py);
    # the empirical null must stay within 2x.  3000 trials at 0.01: 30 expected,
    # the 2x band [0.005, 0.02] is about 3 binomial sigmas either side.
    rng = np.random.default_rng({"bystander": 21, "drift": 22}[kind])
    t = np.arange(0.0, 126.0, 0.5)
    trials, pfa = 3000, 0.01
    alarms = {"null": 0, "iid": 0}
    for _ in range(trials):
        p_dbm = 10 * np.log10(_background_mw(kind, rng, t))
        for method in alarms:
            alarms[method] += schedule_glrt(t, p_dbm, CODE, SLOT_S, max_lag_s=4.0, pfa=pfa,
                                            method=method)[1]["detected"]
    assert alarms["null"] / trials <= 2 * pfa
    assert alarms["null"] / trials >= pfa / 4          # not bought by never detecting
    assert alarms["iid"] / trials > 5 * pfa            # the reference does break here


@pytest.mark.parametrize("kind, target_mw", [
    ("drift", B_MW),              # target as strong as the drifting background
    ("bystander", 4 * B_MW),      # target as strong as the bystander, both faded
])
def test_null_method_detects_through_a_bystander_and_drift(kind, target_mw):
    rng = np.random.default_rng(23)
    t = np.arange(0.0, 126.0, 0.5)
    s = schedule_at(t, CODE, SLOT_S)
    hits = 0
    for _ in range(100):
        p_mw = _background_mw(kind, rng, t) + target_mw * s * rng.exponential(1.0, t.size)
        hits += schedule_glrt(t, 10 * np.log10(p_mw), CODE, SLOT_S, max_lag_s=4.0)[1]["detected"]
    assert hits >= 90


@pytest.mark.parametrize("snr", [0.5, 0.8])
def test_iid_detection_probability_matches_noncentral_t(snr):
    # SNR = a / sigma per sample.  Without a lag search the statistic is
    # noncentral t with n - 2 dof and noncentrality a sqrt(Sxx) / sigma.
    rng = np.random.default_rng(int(snr * 100))
    s = schedule_at(TIME_S, CODE, SLOT_S)
    sxx = np.sum((s - s.mean()) ** 2)
    n = TIME_S.size
    pfa = 1e-3
    threshold = scipy.stats.t.isf(pfa, n - 2)
    pd_expected = scipy.stats.nct.sf(threshold, n - 2, snr * np.sqrt(sxx))
    trials = 1000
    hits = 0
    for _ in range(trials):
        p_mw = B_MW + snr * SIGMA_MW * s + rng.normal(0.0, SIGMA_MW, n)
        hits += schedule_glrt(TIME_S, 10 * np.log10(p_mw), CODE, SLOT_S, pfa=pfa,
                              method="iid")[1]["detected"]
    assert hits / trials == pytest.approx(pd_expected, abs=0.05)


@pytest.mark.parametrize("snr", [0.5, 0.8])
def test_null_detection_probability_matches_noncentral_t(snr):
    # On white noise the unweighted null statistic is z / tau: z Gaussian with
    # noncentrality a |s_r| / sigma, s_r the code with the quadratic background
    # removed, tau^2 a mean of ~dof squared null projections: noncentral t with the
    # reported dof.  The local-variance weights (default) may cost a little of it.
    rng = np.random.default_rng(int(snr * 100) + 1)
    s = schedule_at(TIME_S, CODE, SLOT_S)
    u = TIME_S / TIME_S.max() * 2 - 1
    q, _ = np.linalg.qr(np.polynomial.legendre.legvander(u, 2))
    s_r = s - q @ (q.T @ s)
    pfa, trials = 1e-3, 1000
    hits, weighted, dofs = 0, 0, []
    for _ in range(trials):
        p_dbm = 10 * np.log10(B_MW + snr * SIGMA_MW * s + rng.normal(0.0, SIGMA_MW, TIME_S.size))
        _, props = schedule_glrt(TIME_S, p_dbm, CODE, SLOT_S, pfa=pfa, weight_window=0)
        hits += props["detected"]
        dofs.append(props["dof"])
        weighted += schedule_glrt(TIME_S, p_dbm, CODE, SLOT_S, pfa=pfa)[1]["detected"]
    nu = float(np.mean(dofs))
    assert 40 <= nu <= 62                             # 62 free shifts, little dependence
    pd_expected = scipy.stats.nct.sf(scipy.stats.t.isf(pfa, nu), nu, snr * np.sqrt(s_r @ s_r))
    assert hits / trials == pytest.approx(pd_expected, abs=0.05)
    assert weighted / trials >= pd_expected - 0.12


def test_other_sims_are_kept_out_of_the_null():
    # A second SIM of the tasking, on, sits at a shift the null would use: unless
    # it is named in other_codes (and so regressed out) it inflates the null variance
    # and hides the target.
    codes = sim_codes(2, 6)
    rng = np.random.default_rng(24)
    named = unnamed = 0
    for _ in range(50):
        p_mw = (B_MW + rng.normal(0.0, SIGMA_MW, TIME_S.size)
                + 10 * SIGMA_MW * schedule_at(TIME_S, codes[1], SLOT_S)
                + 1.0 * SIGMA_MW * schedule_at(TIME_S, codes[0], SLOT_S))
        p_dbm = 10 * np.log10(p_mw)
        named += schedule_glrt(TIME_S, p_dbm, codes[0], SLOT_S,
                               other_codes=[codes[1]])[1]["detected"]
        unnamed += schedule_glrt(TIME_S, p_dbm, codes[0], SLOT_S)[1]["detected"]
    assert named >= 40 and unnamed <= 10
    with pytest.raises(ValueError, match="not a cyclic shift"):
        schedule_glrt(TIME_S, p_dbm, codes[0], SLOT_S, other_codes=[m_sequence(6, state=5)[::-1]])


def test_short_code_has_no_empirical_null():
    t = np.arange(0.0, 28.0, 1.0)
    p_dbm = np.full(t.size, -90.0) + np.random.default_rng(0).normal(0, 0.1, t.size)
    with pytest.raises(ValueError, match="free for the empirical null"):
        schedule_glrt(t, p_dbm, m_sequence(3), SLOT_S)
    assert schedule_glrt(t, p_dbm, m_sequence(3), SLOT_S, method="iid")[1]["n"] == t.size


def test_on_minus_off_removes_other_phones():
    rng = np.random.default_rng(4)
    a_mw = 10 ** (-95 / 10)
    estimates = []
    for _ in range(200):
        # Other phones: bursty power uncorrelated with the code, 5 dB above the target.
        others = 10 ** (-90 / 10) * rng.exponential(1.0, TIME_S.size)
        p_mw = 1e-10 + others + a_mw * schedule_at(TIME_S, CODE, SLOT_S)
        _, props = schedule_glrt(TIME_S, 10 * np.log10(p_mw), CODE, SLOT_S)
        estimates.append(props["on_minus_off_mw"])
    # Least squares is unbiased in mW: the mean over scans is the target's own power.
    assert 10 * np.log10(np.mean(estimates)) == pytest.approx(-95.0, abs=0.3)


def test_lag_search_finds_clock_offset():
    rng = np.random.default_rng(5)
    t = np.arange(0.0, 4 * 126.0, 1.0)
    lag_s = 3.0
    others = 10 ** (-90 / 10) * rng.exponential(1.0, t.size)
    p_mw = 1e-10 + others + 10 ** (-90 / 10) * schedule_at(t - lag_s, CODE, SLOT_S)
    _, props = schedule_glrt(t, 10 * np.log10(p_mw), CODE, SLOT_S, max_lag_s=6.0, lag_step_s=0.5)
    assert props["detected"] and props["p_fa"] < 1e-6
    assert props["lag_s"] == pytest.approx(lag_s, abs=0.5)
    assert props["on_minus_off_dbm"] == pytest.approx(-90.0, abs=1.5)


def test_other_sims_code_does_not_trigger():
    codes = sim_codes(2, 6)
    rng = np.random.default_rng(6)
    alarms = 0
    for _ in range(300):
        p_mw = B_MW + 3 * SIGMA_MW * schedule_at(TIME_S, codes[1], SLOT_S) + rng.normal(
            0.0, SIGMA_MW, TIME_S.size)
        alarms += schedule_glrt(TIME_S, 10 * np.log10(p_mw), codes[0], SLOT_S, pfa=0.01)[1]["detected"]
    assert alarms / 300 <= 0.03


def test_stateful_detector_agrees_with_function():
    rng = np.random.default_rng(7)
    p_dbm = 10 * np.log10(B_MW + SIGMA_MW * schedule_at(TIME_S, CODE, SLOT_S)
                          + rng.normal(0, SIGMA_MW, TIME_S.size))
    det = ScheduleDetector(CODE, SLOT_S, max_lag_s=2.0)
    for t, p in zip(TIME_S[:50], p_dbm[:50]):
        det.add(t, p)
    det.add(TIME_S[50:], p_dbm[50:])
    stat_c, props_c = det.result()
    stat_f, props_f = schedule_glrt(TIME_S, p_dbm, CODE, SLOT_S, max_lag_s=2.0)
    assert stat_c == pytest.approx(stat_f)
    assert props_c == props_f


@pytest.mark.parametrize("looks", [1, 8])
def test_cfar_false_alarm_rate_within_factor_2(looks):
    rng = np.random.default_rng(looks)
    pfa = 2e-3
    cells = alarms = 0
    for _ in range(40):
        p_mw = rng.gamma(looks, 1e-10 / looks, 2500)
        _, props = cfar_bursts(10 * np.log10(p_mw), pfa=pfa, looks=looks)
        alarms += int(props["detected"].sum())
        cells += p_mw.size
    assert pfa / 2 <= alarms / cells <= pfa * 2


def test_cfar_finds_bursts():
    rng = np.random.default_rng(9)
    p_mw = rng.gamma(8, 1e-10 / 8, 1000)
    for start in (100, 400, 800):
        p_mw[start:start + 4] += 10 ** (-90 / 10)        # 10 dB above -100 dBm noise
    bursts, props = cfar_bursts(10 * np.log10(p_mw), looks=8, pfa=1e-4)
    assert bursts.tolist() == [[100, 104], [400, 404], [800, 804]]
    assert np.median(props["noise_dbm"]) == pytest.approx(-100.0, abs=0.3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(time_s=[], power_dbm=[]), "empty"),
    (dict(time_s=[0, 1, 2, 3], power_dbm=[-90, np.nan, -90, -90]), "NaN"),
    (dict(time_s=[0, 1, 2], power_dbm=[-90, -90]), "samples"),
    (dict(time_s=np.array(["a", "b", "c", "d"]), power_dbm=[-90] * 4), "real numbers"),
    (dict(time_s=[0.0, 0.1, 0.2, 0.3], power_dbm=[-90.0] * 4), "constant over the samples"),
])
def test_schedule_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        schedule_glrt(code=CODE, slot_s=SLOT_S, **kwargs)


def test_bad_codes_and_degrees():
    with pytest.raises(ValueError, match="0/1 chips"):
        schedule_glrt(TIME_S, np.full(TIME_S.size, -90.0), [0, 2, 1], SLOT_S)
    with pytest.raises(ValueError, match="degree"):
        m_sequence(40)
    with pytest.raises(ValueError, match="non-zero"):
        m_sequence(5, state=0)
    with pytest.raises(ValueError, match="cells"):
        cfar_bursts([-90.0, -91.0])


def test_streaming_burst_detector_agrees_with_function():
    rng = np.random.default_rng(12)
    p_mw = rng.gamma(4, 1e-10 / 4, 700)
    p_mw[[50, 51, 300, 301, 302, 690]] += 1e-8
    p_dbm = 10 * np.log10(p_mw)
    _, props = cfar_bursts(p_dbm, looks=4)
    det = BurstDetector(looks=4)
    flags = [det.add(chunk) for chunk in np.array_split(p_dbm, [1, 5, 6, 100, 333, 334, 600])]
    flags.append(det.flush())
    np.testing.assert_array_equal(np.concatenate(flags), props["detected"])
    assert det.decided == p_dbm.size
