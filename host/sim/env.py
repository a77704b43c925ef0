"""The simulated surroundings the virtual handheld's fake chips read.

`Scenario` turns a world and a seed into concrete things: where the rack is,
which phones share its channels, the shadowing and fading fields, the sensor
errors.  `SimEnv` answers the virtual handheld's questions (RF power at a
frequency, heading, position fix, air pressure...) from the scenario and the
officer's true state, in simulated time kept by a `SimClock`.
"""

import math
import time

import numpy as np
import pymap3d

from dsp.antenna import load_pattern
from host.sim.geometry import polygon_contains
from host.sim.officer import Officer
from host.sim.air import Continuous, GsmBurst, TddSlots
from host.sim.radio import AlwaysOn, Emitter, FadingField, OnOffSchedule, RadioModel, ShadowingField

#: Standard atmosphere (ICAO): p = p0 (1 - L h / T0)^(g M / R L).
BARO_K = 2.25577e-5
BARO_EXP = 5.25588
SEA_LEVEL_PA = 101325.0
#: Sensor-error series are drawn on this time step and interpolated (s).
_NOISE_STEP_S = 0.1
_NOISE_HORIZON_S = 3 * 3600.0
#: Readings closer than this to a door still see the sky (m).
_GNSS_DOOR_M = 2.0


class SimClock:
    """Simulated seconds that run ``speed`` times faster than the wall clock, from 0 at start()."""

    def __init__(self, speed=1.0):
        if not speed > 0:
            raise ValueError("speed must be positive, got %r" % (speed,))
        self.speed = float(speed)
        self._t0 = None

    def start(self):
        self._t0 = time.monotonic()
        self._epoch0 = time.time()

    def at_epoch(self, epoch_s):
        """Simulated time at a host wall-clock instant (``time.time()`` seconds)."""
        return (epoch_s - self._epoch0) * self.speed

    def now_s(self):
        if self._t0 is None:
            return 0.0
        return (time.monotonic() - self._t0) * self.speed

    def sleep_until(self, t_s):
        """Block until simulated time ``t_s``."""
        wait = (t_s - self.now_s()) / self.speed
        if wait > 0:
            time.sleep(wait)


def _gauss_markov(rng, sigma, tau_s, n):
    """First-order Gauss-Markov series with stationary std ``sigma`` and time constant ``tau_s``."""
    a = math.exp(-_NOISE_STEP_S / tau_s)
    w = rng.standard_normal(n) * sigma * math.sqrt(1.0 - a * a)
    out = np.empty(n)
    out[0] = rng.standard_normal() * sigma
    for k in range(1, n):
        out[k] = a * out[k - 1] + w[k]
    return out


def _random_point_in(building, rng, margin_m=3.0):
    poly = building.footprint_m
    lo, hi = poly.min(axis=0) + margin_m, poly.max(axis=0) - margin_m
    for _ in range(1000):
        p = rng.uniform(lo, hi)
        if polygon_contains(poly, *p):
            return p
    return building.stair_m.copy()


class Scenario:
    """A world made concrete by a seed: rack placement, emitters, fields and sensor errors.

    Attributes
    ----------
    truth : dict
        ``x_m``, ``y_m``, ``floor``, ``building`` of the rack.
    emitters : list of Emitter
        Target SIMs first (in the world's target order), then bystanders.
    radio : RadioModel
    """

    def __init__(self, world, seed):
        self.world = world
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        r = world.rack
        if r.building is None:
            b = world.buildings[rng.integers(len(world.buildings))]
            floor = int(rng.integers(b.floors))
            x, y = _random_point_in(b, rng)
        else:
            b, floor, x, y = world.building(r.building), r.floor, r.x_m, r.y_m
        self.truth = {"x_m": float(x), "y_m": float(y), "floor": int(floor), "building": b.id}
        self.pattern = load_pattern(world.antenna)
        rad = world.radio
        net = world.network
        off_s = net.frame_offset_us * 1e-6
        rack_shadow = ShadowingField(rad.shadowing_sigma_db, rad.shadowing_corr_m, rng)
        self.emitters = []
        for t in world.targets:
            self.emitters.append(Emitter(
                float(x), float(y), int(floor), b, t.freq_hz, t.tx_power_dbm,
                OnOffSchedule(t.on_mean_s, t.off_mean_s, rng), rack_shadow,
                FadingField(t.freq_hz, rng), label="target sim %d" % t.sim, air=self._air(t, off_s)))
        inf = world.interferers
        for k in range(inf.count):
            if rng.random() < 0.5:
                edge = world.streets.edges[rng.integers(len(world.streets.edges))]
                pa, pb = (world.streets.nodes_m[n] for n in edge)
                ex, ey = pa + rng.random() * (pb - pa)
                efloor, eb = 0, None
            else:
                eb = world.buildings[rng.integers(len(world.buildings))]
                ex, ey = _random_point_in(eb, rng, margin_m=1.0)
                efloor = int(rng.integers(eb.floors))
            t = world.targets[rng.integers(len(world.targets))]
            duty = inf.on_mean_s / (inf.on_mean_s + inf.off_mean_s)
            self.emitters.append(Emitter(
                float(ex), float(ey), efloor, eb, t.freq_hz, float(rng.uniform(*inf.tx_power_dbm)),
                OnOffSchedule(inf.on_mean_s, inf.off_mean_s, rng, start_on=bool(rng.random() < duty)),
                ShadowingField(rad.shadowing_sigma_db, rad.shadowing_corr_m, rng),
                FadingField(t.freq_hz, rng), label="bystander %d" % k,
                air=self._bystander_air(t, off_s, rng)))
        if net.duplex == "tdd":
            dl = net.downlink
            for f in sorted({t.freq_hz for t in world.targets}):
                self.emitters.append(Emitter(
                    dl.x_m, dl.y_m, 0, None, f, dl.eirp_dbm, AlwaysOn(),
                    ShadowingField(rad.shadowing_sigma_db, rad.shadowing_corr_m, rng),
                    FadingField(f, rng), label="base station %.1f MHz" % (f / 1e6),
                    air=TddSlots(f, net.tdd_config, net.special_subframe, "dl", off_s),
                    rooftop=True, z_m=dl.height_m))
        self.radio = RadioModel(world, self.emitters, self.pattern)
        n = int(_NOISE_HORIZON_S / _NOISE_STEP_S)
        o = world.officer
        self.gnss_err_m = np.stack([_gauss_markov(rng, o.gnss_sigma_m, 30.0, n) for _ in range(3)])
        self.heading_err_deg = _gauss_markov(rng, o.heading_sigma_deg, 5.0, n)
        self.tilt_deg = _gauss_markov(rng, 3.0, 2.0, n)
        # Weather moves sea-level pressure by up to a few hPa a day; the
        # barometer adds about 2 Pa of noise (BMP388-class sensor).
        self.baro_drift_pa_s = float(rng.normal(0.0, 100.0 / 3600.0))
        self.baro_noise_pa = rng.standard_normal(n) * 2.0


    def _air(self, target, off_s):
        """How a target SIM is on the air: GSM bursts (hopping or not), TDD uplink subframes, or continuous."""
        net = self.world.network
        if target.rat == "gsm" and net.gsm_tdma:
            return GsmBurst(target.hopping_arfcns, target.timeslot, target.maio, off_s)
        if net.duplex == "tdd":
            return TddSlots(target.freq_hz, net.tdd_config, net.special_subframe, "ul", off_s)
        return Continuous(target.freq_hz)

    def _bystander_air(self, target, off_s, rng):
        """A bystander in the target's cell: another (timeslot, MAIO) of its carriers, or its uplink subframes.

        Two phones of one cell never share a timeslot on one carrier at once: with
        hopping they differ in MAIO, without it in timeslot.  When every (timeslot,
        MAIO) of the carriers is taken, the cell is full and the phone shares one
        with another bystander, never with a target.
        """
        net = self.world.network
        if target.rat == "gsm" and net.gsm_tdma:
            ma = tuple(sorted(target.hopping_arfcns))
            taken = {(a.timeslot, a.maio) for e in self.emitters
                     for a in [e.air] if isinstance(a, GsmBurst) and tuple(sorted(a.arfcns)) == ma}
            targets = {(t.timeslot, t.maio) for t in self.world.targets if tuple(sorted(t.hopping_arfcns)) == ma}
            free = [(s, m) for s in range(8) for m in range(len(ma)) if (s, m) not in taken]
            if not free:
                free = [(s, m) for s in range(8) for m in range(len(ma)) if (s, m) not in targets]
            slot, maio = free[int(rng.integers(len(free)))]
            return GsmBurst(ma, slot, maio, off_s)
        if net.duplex == "tdd":
            return TddSlots(target.freq_hz, net.tdd_config, net.special_subframe, "ul", off_s)
        return Continuous(target.freq_hz)


class SimEnv:
    """The virtual handheld's window on the simulated world.

    Every method takes simulated time ``t_s`` and is safe to call from any thread.
    """

    def __init__(self, scenario, officer, clock):
        self.scenario = scenario
        self.world = scenario.world
        self.officer = officer
        self.clock = clock
        self._lat0, self._lon0, self._alt0 = self.world.origin

    def now_s(self):
        """Simulated time (s) since the hunt began."""
        return self.clock.now_s()

    def _noise(self, series, t_s):
        k = min(max(t_s / _NOISE_STEP_S, 0.0), len(series) - 2.0)
        i = int(k)
        return series[i] + (k - i) * (series[i + 1] - series[i])

    def rf_power_dbm(self, freq_hz, t_s, avg_s=0.0):
        """Power (dBm) at the antenna port in the channel centred on ``freq_hz``.

        At the instant ``t_s`` by default, so a read inside a handset's timeslot or
        uplink subframe sees it and one elsewhere in the frame does not; with
        ``avg_s`` > 0 the mean power over the ``avg_s`` before ``t_s`` (what a
        receiver integrating whole frames reads).  Frame ``n`` of every air
        interface starts at ``t_s = n T_frame + network.frame_offset_us``.
        """
        s = self.officer.state(t_s)
        return self.scenario.radio.power_dbm(freq_hz, t_s, s.x_m, s.y_m, s.z_m, round(s.floor),
                                             s.building, s.heading_deg, avg_s=avg_s)

    def heading_deg(self, t_s):
        """Antenna boresight as the compass would report it (deg clockwise from true north)."""
        return (self.officer.state(t_s).heading_deg + self._noise(self.scenario.heading_err_deg, t_s)) % 360.0

    def tilt_deg(self, t_s):
        """Pitch and roll of the handheld from level (deg): the officer's unsteady hand."""
        wobble = self._noise(self.scenario.tilt_deg, t_s)
        return wobble, 0.5 * self._noise(self.scenario.tilt_deg, t_s + 600.0)

    def indoors(self, t_s):
        s = self.officer.state(t_s)
        return s.building is not None and math.hypot(*(np.array([s.x_m, s.y_m]) - s.building.door_m)) > _GNSS_DOOR_M

    def position(self, t_s):
        """GNSS fix: ``(lat_deg, lon_deg, alt_m, fix_ok)``; no fix indoors."""
        s = self.officer.state(t_s)
        e = self.scenario.gnss_err_m
        east = s.x_m + self._noise(e[0], t_s)
        north = s.y_m + self._noise(e[1], t_s)
        up = s.z_m + 1.5 * self._noise(e[2], t_s)
        lat, lon, alt = pymap3d.enu2geodetic(east, north, up, self._lat0, self._lon0, self._alt0)
        return float(lat), float(lon), float(alt), not self.indoors(t_s)

    def true_alt_m(self, t_s):
        return self._alt0 + self.officer.state(t_s).z_m

    def pressure_pa(self, t_s):
        """Barometer reading (Pa) at the handheld's true height."""
        p0 = SEA_LEVEL_PA + self.scenario.baro_drift_pa_s * t_s
        p = p0 * (1.0 - BARO_K * self.true_alt_m(t_s)) ** BARO_EXP
        return p + self._noise(self.scenario.baro_noise_pa, t_s)

    def temperature_c(self, t_s):
        """Air temperature at the handheld (deg C)."""
        return 21.0 if self.officer.state(t_s).building is not None else 12.0

    def buttons(self, t_s):
        """Names of the buttons held down: the simulated officer presses none."""
        return frozenset()


def make_env(world, seed, speed=1.0):
    """Scenario, officer, clock and env for one hunt (the clock not yet started)."""
    scenario = Scenario(world, seed)
    clock = SimClock(speed)
    officer = Officer(world, clock.now_s)
    return SimEnv(scenario, officer, clock)
