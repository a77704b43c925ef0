"""Propagation pieces against their textbook values: Friis, kTB, TR 38.901 walls, P.1238 floors,
Gudmundson shadowing statistics, Rayleigh fading statistics."""

import dataclasses
import math

import numpy as np
import pytest

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


def test_shadowing_field_has_the_asked_sigma_and_exponential_correlation():
    sigma, corr = 6.0, 20.0
    f = ShadowingField((0.0, 400.0, 0.0, 400.0), sigma, corr, np.random.default_rng(7), spacing_m=2.0)
    g = f._grid
    assert g.std() == pytest.approx(sigma, rel=1e-9)
    lag = int(corr / 2.0)
    rho = np.mean(g[:, :-lag] * g[:, lag:]) / g.var()
    assert rho == pytest.approx(math.exp(-1.0), abs=0.1)  # Gudmundson: rho(d) = exp(-d / d_corr)
    # Half-way between four grid points, bilinear interpolation is their mean.
    assert f.at(101.0, 37.0) == pytest.approx(g[18:20, 50:52].mean(), abs=1e-9)


def test_diffuse_fading_is_rayleigh():
    f = FadingField(1.8e9, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    g = np.array([f.power_gain(x, y) for x, y in rng.uniform(0, 500, (20000, 2))])
    assert g.mean() == pytest.approx(1.0, abs=0.05)
    # Rayleigh amplitude: power is exponential, P(g < 0.1) = 1 - exp(-0.1).
    assert np.mean(g < 0.1) == pytest.approx(1 - math.exp(-0.1), abs=0.02)


def test_on_off_schedule_duty_cycle():
    s = OnOffSchedule(30.0, 10.0, np.random.default_rng(5), horizon_s=200_000.0)
    t = np.arange(0.0, 190_000.0, 7.0)
    assert np.mean([s.is_on(x) for x in t]) == pytest.approx(0.75, abs=0.03)
