"""Frame timing of the simulated air interfaces against 3GPP: GSM bursts (TS 45.002), cyclic hopping,
LTE TDD subframes (TS 36.211 tables 4.2-1 and 4.2-2), and the world's power seen inside and outside them."""

import math

import numpy as np
import pytest

from dsp import bands
from host.sim.air import GsmBurst, TddSlots
from host.sim.env import Scenario
from host.sim.world import load_world

# TS 45.002: a TDMA frame is 120/26 ms of 8 timeslots of 156.25 bit periods; bit period 48/13 us.
FRAME_S = 120e-3 / 26
SLOT_S = FRAME_S / 8
BIT_S = 48e-6 / 13


def test_gsm_frame_and_slot_lengths_are_the_standards():
    assert FRAME_S == pytest.approx(4.615e-3, abs=1e-6)
    assert SLOT_S == pytest.approx(576.9e-6, abs=0.1e-6)
    assert 156.25 * BIT_S == pytest.approx(SLOT_S, rel=1e-12)


def test_gsm_burst_is_on_in_its_timeslot_only():
    b = GsmBurst([600], timeslot=3)
    start = 3 * SLOT_S
    for n in (0, 1, 57, 10_000):
        t0 = n * FRAME_S
        assert not b.on(t0 + start - 2e-6)
        assert b.on(t0 + start + 2e-6)
        assert b.on(t0 + start + 147.5 * BIT_S)        # the 148 bits of a normal burst
        assert not b.on(t0 + start + 148.5 * BIT_S)    # guard period: off
        assert not b.on(t0 + start + SLOT_S + 2e-6)    # the next slot is someone else's
    t = np.random.default_rng(1).uniform(0.0, 60.0, 400_000)
    # On 148 bit periods of 8 x 156.25 per frame: 11.84 %, one slot of eight less its guard.
    assert np.mean(b.on(t)) == pytest.approx(148.0 / 1250.0, abs=0.002)


def test_eight_timeslots_never_overlap():
    t = np.random.default_rng(2).uniform(0.0, 10.0, 200_000)
    on = np.array([GsmBurst([600], timeslot=s).on(t) for s in range(8)])
    assert on.sum(axis=0).max() == 1


def test_cyclic_hopping_visits_each_arfcn_one_frame_in_n():
    ma = [48, 12, 36, 24]                                 # the MA is used in ascending order
    target = GsmBurst(ma, timeslot=2, maio=2)
    fn = np.arange(4000)
    t = fn * FRAME_S + 2 * SLOT_S + 100e-6              # inside the burst of every frame
    f = target.freq_hz(t)
    tasked = bands.uplink_hz("gsm", 36)
    assert np.mean(f == tasked) == pytest.approx(1 / 4)
    # TS 45.002 6.2.3 with HSN = 0: MAI = (FN + MAIO) mod N over the sorted MA [12, 24, 36, 48].
    expected = [bands.uplink_hz("gsm", sorted(ma)[(n + 2) % 4]) for n in fn[:8]]
    assert list(f[:8]) == expected
    # Another phone of the cell in the same timeslot with another MAIO is never on the same carrier.
    other = GsmBurst(ma, timeslot=2, maio=1)
    assert not np.any(other.freq_hz(t) == f)


def test_tdd_configuration_2_has_the_table_4_2_2_subframes():
    ul = TddSlots(2585e6, config=2, special_subframe=7, link="ul")
    dl = TddSlots(2585e6, config=2, special_subframe=7, link="dl")
    mid = (np.arange(10) + 0.5) * 1e-3
    # Configuration 2: D S U D D D S U D D.
    assert [bool(x) for x in ul.on(mid)] == [c == "U" for c in "DSUDDDSUDD"]
    # DwPTS of special subframe configuration 7 is 21952 Ts = 0.7146 ms; the rest of S is GP and UpPTS.
    dwpts_s = 21952 / 30.72e6
    assert dl.on(1e-3 + dwpts_s - 1e-6) and not dl.on(1e-3 + dwpts_s + 1e-6)
    assert not ul.on(1e-3 + 0.99e-3)                     # UpPTS: sounding only, not the UE's traffic
    t = np.random.default_rng(3).uniform(0.0, 5.0, 400_000)
    assert np.mean(ul.on(t)) == pytest.approx(0.2, abs=0.003)
    assert np.mean(dl.on(t)) == pytest.approx((6 + 2 * dwpts_s / 1e-3) / 10, abs=0.003)
    assert not np.any(ul.on(t) & dl.on(t))


@pytest.mark.parametrize("config, n_ul", [(0, 6), (1, 4), (3, 3), (5, 1), (6, 5)])
def test_tdd_uplink_share_per_configuration(config, n_ul):
    t = np.random.default_rng(4).uniform(0.0, 5.0, 200_000)
    assert np.mean(TddSlots(1.9e9, config, 5, "ul").on(t)) == pytest.approx(n_ul / 10, abs=0.004)


def test_tdd_world_ue_is_seen_in_uplink_subframes_and_buried_in_the_frame_average():
    world = load_world("tdlte-b41")
    sc = Scenario(world, 1)
    radio = sc.radio
    ue, bs = sc.emitters[0], sc.emitters[-2]
    assert bs.rooftop and bs.freq_hz == ue.freq_hz
    x, y = sc.truth["x_m"], sc.truth["y_m"] - 25.0      # on the street beside the rack
    f = ue.freq_hz
    t0 = 20.0                                           # both targets in a call at the start (mean 90 s)
    assert ue.schedule.is_on(t0)
    in_ul = radio.power_dbm(f, t0 + 2.5e-3, x, y, 1.5, 0, None, 0.0)
    in_dl = radio.power_dbm(f, t0 + 3.5e-3, x, y, 1.5, 0, None, 0.0)
    frame = radio.power_dbm(f, t0 + 10e-3, x, y, 1.5, 0, None, 0.0, avg_s=10e-3)
    only_ue = RadioOnly(radio, [ue]).power_dbm(f, t0 + 2.5e-3, x, y, 1.5, 0, None, 0.0)
    # The downlink swamps the channel in D subframes and in the frame average ...
    assert in_dl > in_ul + 15.0
    assert frame > in_ul + 10.0
    # ... and the uplink subframe holds the UE (and the cell's other phones), nothing of the downlink.
    assert in_ul >= only_ue - 1e-9
    # The frame average is the subframe powers weighted by their share of the frame.
    share_dl = (6 + 2 * 21952 / 30720) / 10
    expected = 10 * math.log10(share_dl * 10 ** (in_dl / 10) + 0.2 * 10 ** (in_ul / 10)
                               + (1 - share_dl - 0.2) * 10 ** (radio.power_dbm(f, t0 + 1.9e-3, x, y, 1.5, 0, None, 0.0) / 10))
    assert frame == pytest.approx(expected, abs=0.3)


def test_gsm_world_target_is_on_the_tasked_arfcn_in_its_slot_one_frame_in_four():
    world = load_world("gsm900-hopping")
    sc = Scenario(world, 1)
    target = sc.emitters[0]
    t = world.targets[0]
    f = t.freq_hz
    assert len(t.hopping_arfcns) == 4
    slot0 = t.timeslot * SLOT_S
    frames = np.arange(2000)
    times = (math.ceil(30.0 / FRAME_S) + frames) * FRAME_S + slot0 + 200e-6
    seen = np.array([target.on_air(s, f, 100e3) for s in times])
    call = np.array([target.schedule.is_on(s) for s in times])
    assert call.all()
    assert np.mean(seen) == pytest.approx(0.25, abs=0.001)
    # Outside its slot the target is never on the air.
    assert not any(target.on_air(s + SLOT_S, f, 100e3) for s in times)
    # Bystanders of the cell never share the target's (timeslot, carrier) at one instant, nor each other's.
    for e in sc.emitters[2:]:
        assert not any(e.on_air(s, f, 100e3) and target.on_air(s, f, 100e3) for s in times[:400])
    channels = [(tuple(e.air.arfcns), e.air.timeslot, e.air.maio) for e in sc.emitters]
    assert len(set(channels)) == len(channels)


class RadioOnly:
    """The same radio with only some emitters switched on."""

    def __init__(self, radio, emitters):
        self._radio = radio
        self._emitters = emitters

    def power_dbm(self, *args, **kw):
        saved, cache = self._radio.emitters, self._radio._tuned_cache
        self._radio.emitters, self._radio._tuned_cache = self._emitters, {}
        try:
            return self._radio.power_dbm(*args, **kw)
        finally:
            self._radio.emitters, self._radio._tuned_cache = saved, cache


def test_static_env_can_carry_a_tdd_frame():
    # The settable env of the firmware tests and benches: -50 dBm downlink, -85 dBm UE in configuration 2.
    from host.virtual.env import StaticEnv

    ul = TddSlots(2585e6, 2, 7, "ul")
    dl = TddSlots(2585e6, 2, 7, "dl")
    env = StaticEnv(power_dbm=-100.0)
    env.power_at = lambda f, t: -50.0 if dl.on(t) else (-85.0 if ul.on(t) else -100.0)
    assert env.rf_power_dbm(2585e6, 7.0025) == -85.0          # subframe 2: U
    assert env.rf_power_dbm(2585e6, 7.0035) == -50.0          # subframe 3: D
    env.power_at = None
    assert env.rf_power_dbm(2585e6, 7.0025) == -100.0
