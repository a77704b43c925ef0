"""Propagation pieces against their textbook values: Friis, kTB, TR 38.901 walls, P.1238 floors,
Gudmundson shadowing statistics, Rician (LOS) and Rayleigh (NLOS) fading against their closed forms."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from host.sim.radio import (Emitter, FadingField, OnOffSchedule, RadioModel, ShadowingField,
                            fspl_1m_db, noise_power_dbm)
from host.sim.world import WALL_LOSS_DB, load_world
from dsp.antenna import load_pattern

C = 299_792_458.0


def test_free_space_loss_at_one_metre():
    # 20 log10(4 pi f / c) at 1 GHz is 32.45 dB (the textbook FSPL constant 32.45 dB at 1 km, 1 MHz).
    assert fspl_1m_db(1e9) == pytest.approx(32.447, abs=0.001)


def test_thermal_noise_in_a_gsm_channel():
    # kTB at 290 K in 200 kHz: -174 dBm/Hz + 53.0 dB.
    assert noise_power_dbm(200e3) == pytest.approx(-120.99, abs=0.01)


@pytest.mark.parametrize("material, f_ghz, loss_db", [
    ("concrete", 2.0, 13.0), ("standard_glass", 2.0, 2.4), ("irr_glass", 1.0, 23.3), ("wood", 1.0, 4.97)])
def test_tr38901_material_losses(material, f_ghz, loss_db):
    assert WALL_LOSS_DB[material](f_ghz) == pytest.approx(loss_db, abs=1e-9)


class _Off:
    def is_on(self, t_s):
        return True


class _Flat:
    def at(self, x_m, y_m):
        return 0.0


def _model(world_name="corner", **radio):
    world = load_world(world_name)
    world = dataclasses.replace(world, radio=dataclasses.replace(world.radio, **radio))
    return world, RadioModel(world, [], load_pattern(world.antenna))


def _emitter(world, x, y, floor, building, freq_hz=1.8e9, tx_dbm=20.0):
    return Emitter(x, y, floor, building, freq_hz, tx_dbm, _Off(), _Flat(),
                   FadingField(freq_hz, np.random.default_rng(1)), "test")


def test_open_street_mean_power_is_friis_with_exponent_two():
    world, model = _model(path_loss_exp=2.0)
    e = _emitter(world, 8.0, 0.0, 0, None)              # on the south street
    x, y, z = 20.0, 0.0, 1.5                             # 12 m east along it, no wall between
    d = math.sqrt(12.0 ** 2 + (z - e.z_m) ** 2)
    friis = 20.0 - 20.0 * math.log10(4 * math.pi * d * 1.8e9 / C)
    assert model.mean_power_dbm(e, x, y, z, 0, None) == pytest.approx(friis, abs=1e-9)


def test_one_facade_costs_its_material_loss_plus_the_indoor_path():
    world, model = _model(path_loss_exp=2.0, building_loss_cap_db=100.0)
    house = world.building("A1S")                        # wood, y from 5 to 13
    e = _emitter(world, 20.0, 9.0, 0, house)
    outside = model.mean_power_dbm(e, 20.0, -10.0, 1.5, 0, None)
    d = math.hypot(19.0, 1.5 - e.z_m)
    free = 20.0 - 20.0 * math.log10(4 * math.pi * d * 1.8e9 / C)
    expected = free - WALL_LOSS_DB["wood"](1.8) - 0.5 * 4.0   # 4 m inside, 0.5 dB/m (TR 38.901 O2I)
    assert outside == pytest.approx(expected, abs=1e-6)


def test_floor_slabs_follow_itu_p1238_office():
    world, model = _model(path_loss_exp=2.0)
    house = world.building("A1N")                        # office: 15 dB for the first slab, 4 dB each further one
    e = _emitter(world, 20.0, 21.0, 2, house)
    stair = house.stair_m
    z0, z2 = 1.5, 2 * 3.0 + 1.5
    got = model.mean_power_dbm(e, *stair, z0, 0, house) - model.mean_power_dbm(e, *stair, z2, 2, house)
    d0 = math.sqrt((stair[0] - 20.0) ** 2 + (stair[1] - 21.0) ** 2 + (z0 - e.z_m) ** 2)
    d2 = math.sqrt((stair[0] - 20.0) ** 2 + (stair[1] - 21.0) ** 2 + (z2 - e.z_m) ** 2)
    assert got == pytest.approx(-20.0 * math.log10(d0 / d2) - 19.0, abs=1e-6)


class _Isotropic:
    """An isotropic antenna: 0 dBi everywhere, so readings show the channel alone."""

    def gain(self, angle_deg, freq_hz=None):
        return np.zeros(np.shape(angle_deg))


def _fades_relative_to_mean(world, e, xs, ys, floor=0, building=None):
    """Instantaneous power over local mean (linear) at many points, isotropic antenna."""
    model = RadioModel(world, [e], _Isotropic())
    out = []
    for x, y in zip(xs, ys):
        mean_mw = 10.0 ** (model.mean_power_dbm(e, x, y, 1.5, floor, building) / 10.0)
        out.append(model.field_power_mw(e, e.freq_hz, x, y, 1.5, floor, building, 0.0) / mean_mw)
    return np.array(out), model


@pytest.mark.parametrize("k_db", [3.0, 6.0])
def test_line_of_sight_fading_is_rician_with_the_world_k(k_db):
    world, _ = _model(rician_k_db=k_db)
    e = _emitter(world, 0.0, -300.0, 0, None)            # far south of the block: nothing in the way
    rng = np.random.default_rng(11)
    xs, ys = rng.uniform(-60, 60, 20000), rng.uniform(-230, -200, 20000)
    g, model = _fades_relative_to_mean(world, e, xs, ys)
    assert model.line_of_sight(e, xs[0], ys[0], 0, None)
    k = 10.0 ** (k_db / 10.0)
    # Unit-mean-power Rician envelope: LOS amplitude nu, diffuse sigma^2 per quadrature,
    # nu^2 + 2 sigma^2 = 1 and K = nu^2 / (2 sigma^2); scipy's rice(b = nu / sigma, scale = sigma).
    sigma = math.sqrt(1.0 / (2.0 * (k + 1.0)))
    rice = stats.rice(math.sqrt(2.0 * k), scale=sigma)
    got_db = 10.0 * np.log10(g)
    for q in (0.01, 0.1, 0.5, 0.9):
        assert np.quantile(got_db, q) == pytest.approx(20.0 * math.log10(rice.ppf(q)), abs=0.8 if q == 0.01 else 0.3)
    # Spread of readings in dB against the exact distribution's (4.4 dB at K = 3 dB).
    exact = 20.0 * np.log10(rice.rvs(size=400_000, random_state=np.random.default_rng(1)))
    assert np.std(got_db) == pytest.approx(np.std(exact), abs=0.25)
    assert g.mean() == pytest.approx(1.0, abs=0.04)


def test_rician_spread_at_3_db_is_the_issues_4_4_db():
    # The reference the old model missed (1.2 dB): the exact K = 3 dB Rician's spread of dB readings.
    k = 10.0 ** 0.3
    rice = stats.rice(math.sqrt(2.0 * k), scale=math.sqrt(1.0 / (2.0 * (k + 1.0))))
    exact = 20.0 * np.log10(rice.rvs(size=400_000, random_state=np.random.default_rng(2)))
    assert np.std(exact) == pytest.approx(4.4, abs=0.1)
    assert 20.0 * math.log10(rice.ppf(0.01)) == pytest.approx(-16.4, abs=0.2)


def test_path_through_a_building_is_rayleigh():
    world, _ = _model(rician_k_db=10.0)                  # a strong K that NLOS must ignore
    house = world.building("A1N")
    e = _emitter(world, 20.0, 21.0, 0, house)           # inside: every street path crosses its facade
    rng = np.random.default_rng(12)
    xs, ys = rng.uniform(0, 40, 20000), rng.uniform(-20, -2, 20000)
    g, model = _fades_relative_to_mean(world, e, xs, ys)
    assert not model.line_of_sight(e, xs[0], ys[0], 0, None)
    # Rayleigh: power exponential with unit mean; P(g < x) = 1 - exp(-x); the 1 % fade is
    # 10 log10(-ln 0.99) = -20.0 dB below the mean, the median -1.6 dB.
    assert g.mean() == pytest.approx(1.0, abs=0.04)
    assert 10.0 * np.log10(np.quantile(g, 0.01)) == pytest.approx(-20.0, abs=1.0)
    assert 10.0 * np.log10(np.median(g)) == pytest.approx(10.0 * math.log10(math.log(2.0)), abs=0.3)


def test_fading_decorrelates_over_half_a_wavelength_and_across_hopping_carriers():
    f = FadingField(900e6, np.random.default_rng(3))
    lam = C / 900e6
    rng = np.random.default_rng(4)
    pts = rng.uniform(0, 500, (4000, 2))
    a = np.array([f.field(x, y) for x, y in pts])
    b = np.array([f.field(x + 0.38 * lam, y) for x, y in pts])  # first zero of J0 is at 0.38 lambda
    c = np.array([f.field(x, y, 900e6 + 2.4e6) for x, y in pts])  # 12 ARFCNs up
    corr = lambda u, v: abs(np.mean(u * np.conj(v))) / math.sqrt(np.mean(abs(u) ** 2) * np.mean(abs(v) ** 2))
    assert corr(a, a) == pytest.approx(1.0)
    assert corr(a, b) < 0.25
    # 300 ns delay spread: coherence bandwidth ~ 1 / (2 pi 300 ns) = 0.5 MHz, so 2.4 MHz apart is independent.
    assert corr(a, c) < 0.25


def test_shadowing_ensemble_has_the_set_sigma_and_correlation_everywhere():
    sigma, corr = 5.0, 15.0
    n = 3000
    p = np.array([[40.0, 25.0], [40.0 + corr, 25.0], [140.0, 87.0], [140.0, 87.0 + corr]])
    v = np.array([[ShadowingField(sigma, corr, np.random.default_rng(s)).at(x, y) for x, y in p]
                  for s in range(n)])
    # Std of n Gaussian samples is within 3 / sqrt(2 n) = 4 % of sigma at 3 standard errors.
    assert v.std(axis=0) == pytest.approx([sigma] * 4, rel=0.04)
    # Gudmundson: rho(d) = exp(-d / d_corr); at d = d_corr, exp(-1) = 0.37 (standard error ~ 0.015).
    for i, j in ((0, 1), (2, 3)):
        assert np.corrcoef(v[:, i], v[:, j])[0, 1] == pytest.approx(math.exp(-1.0), abs=0.05)
    assert np.corrcoef(v[:, 0], v[:, 2])[0, 1] == pytest.approx(math.exp(-math.hypot(100, 62) / corr), abs=0.06)
    # Gaussian in dB: its 1 % point is 2.33 sigma below the mean.
    assert np.quantile(v[:, 0], 0.01) == pytest.approx(-2.326 * sigma, abs=0.5)


def test_on_off_schedule_duty_cycle():
    s = OnOffSchedule(30.0, 10.0, np.random.default_rng(5), horizon_s=200_000.0)
    t = np.arange(0.0, 190_000.0, 7.0)
    assert np.mean([s.is_on(x) for x in t]) == pytest.approx(0.75, abs=0.03)
