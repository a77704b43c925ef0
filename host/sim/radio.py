"""What one emitter delivers to the handheld's antenna port, at one instant.

The mean is the `dsp.propagation` log-distance model (the same one the locator
fits) with the free-space loss at 1 m as its reference, plus what that model
leaves out and a real city adds: facade penetration (3GPP TR 38.901 table
7.4.3-1), loss inside buildings (0.5 dB/m, TR 38.901 O2I indoor term), floor
slabs (ITU-R P.1238 factors) and whole buildings in the way, capped because
past a point the wave diffracts round them instead.  Around the mean,
log-normal shadowing with Gudmundson's exponential correlation (a sum of
sinusoids with the exact covariance), and fast fading as a complex field summed
from plane waves: Rician with the world's K in line of sight, Rayleigh when the
straight path crosses a wall or a slab (TR 38.901 gives NLOS and O2I no K).
When within its frame an emitter is on the air, and on which carrier, is
`host.sim.air`'s business.  All randomness is drawn once from a seeded
generator: a reading depends only on where and when it is taken.
"""

import math
from bisect import bisect_right

import numpy as np

from dsp import propagation
from host.sim.air import Continuous
from host.sim.geometry import segment_crossings
from host.sim.world import FLOOR_LOSS_DB

C_M_S = 299_792_458.0
#: Thermal noise density at 290 K (dBm/Hz).
KT_DBM_HZ = -174.0
#: Distance from the officer's turning axis to the antenna (m): a scan moves
#: the antenna through the fading pattern as well as turning its beam.
ANTENNA_ARM_M = 0.4


def fspl_1m_db(freq_hz):
    """Free-space path loss at 1 m, 20 log10(4 pi f / c) (dB)."""
    return 20.0 * math.log10(4.0 * math.pi * freq_hz / C_M_S)


def noise_power_dbm(bw_hz):
    """Thermal noise power kTB in the channel (dBm)."""
    return KT_DBM_HZ + 10.0 * math.log10(bw_hz)


class ShadowingField:
    """Zero-mean Gaussian field in dB with covariance ``sigma^2 exp(-r / corr_m)`` (Gudmundson).

    A sum of sinusoids evaluated exactly at any point, so neither a grid nor
    interpolation shrinks its variance: ``s(p) = sigma sqrt(2 / M) sum_m cos(k_m . p + phi_m)``
    with phases uniform and wave vectors drawn from the covariance's spectrum.
    The 2-D spectrum of ``exp(-r / d)`` is ``~ (1 + d^2 |k|^2)^(-3/2)``, whose radial
    distribution function is ``1 - (1 + d^2 |k|^2)^(-1/2)``; inverting it,
    ``|k| = sqrt(u^-2 - 1) / d`` for ``u`` uniform on (0, 1].  Then
    ``E[s(p) s(p + r)] = sigma^2 E[cos(k . r)] = sigma^2 exp(-|r| / d)`` exactly over the
    ensemble, and every point has variance ``sigma^2``; with ``M`` terms the field is
    Gaussian to the central limit.
    """

    def __init__(self, sigma_db, corr_m, rng, n_terms=256):
        self.sigma_db = float(sigma_db)
        self.corr_m = float(corr_m)
        u = 1.0 - rng.random(n_terms)                   # (0, 1]
        kappa = np.sqrt(1.0 / (u * u) - 1.0) / corr_m
        theta = rng.uniform(0.0, 2.0 * math.pi, n_terms)
        self._kx, self._ky = kappa * np.cos(theta), kappa * np.sin(theta)
        self._phi = rng.uniform(0.0, 2.0 * math.pi, n_terms)
        self._amp = sigma_db * math.sqrt(2.0 / n_terms)

    def at(self, x_m, y_m):
        """Shadowing (dB) at a point (or arrays of points)."""
        if self._amp == 0.0:
            return 0.0 if np.ndim(x_m) == 0 else np.zeros(np.shape(x_m))
        if np.ndim(x_m) == 0:
            return float(self._amp * np.sum(np.cos(self._kx * x_m + self._ky * y_m + self._phi)))
        x = np.asarray(x_m, dtype=float)[..., None]
        y = np.asarray(y_m, dtype=float)[..., None]
        return self._amp * np.sum(np.cos(self._kx * x + self._ky * y + self._phi), axis=-1)


class FadingField:
    """Diffuse multipath as a sum of plane waves: a complex field, unit mean power, Rayleigh.

    Clarke's model with delays: wave ``k`` has a spatial direction ``u_k``, a
    phase ``phi_k`` and an excess delay ``tau_k``, and contributes
    ``exp(j (2 pi f / c) u_k . p + j phi_k - j 2 pi (f - f0) tau_k) / sqrt(N)`` at
    frequency ``f`` (so the fading decorrelates over half a wavelength in space,
    and over the coherence bandwidth ``~ 1 / (2 pi delay spread)`` in frequency,
    which is what a hopping handset sees).  Each wave also has an arrival
    bearing offset ``z_k`` (unit-variance Laplacian, TR 38.901's intra-cluster
    shape) that the radio scales by the angular spread and adds to the geometric
    bearing of the emitter, to weight it by the antenna pattern.
    """

    def __init__(self, freq_hz, rng, n_waves=64, delay_spread_s=300e-9):
        self.f0_hz = float(freq_hz)
        theta = rng.uniform(0.0, 2.0 * math.pi, n_waves)
        self._ux, self._uy = np.cos(theta), np.sin(theta)
        self._phi = rng.uniform(0.0, 2.0 * math.pi, n_waves)
        self._tau_s = rng.exponential(delay_spread_s, n_waves)
        self.z = rng.laplace(0.0, 1.0 / math.sqrt(2.0), n_waves)
        self._norm = 1.0 / math.sqrt(n_waves)

    def phasors(self, x_m, y_m, freq_hz=None):
        """The N unit-power-normalised wave phasors at a point (complex array)."""
        f = self.f0_hz if freq_hz is None else freq_hz
        k = 2.0 * math.pi * f / C_M_S
        phase = k * (self._ux * x_m + self._uy * y_m) + self._phi - 2.0 * math.pi * (f - self.f0_hz) * self._tau_s
        return np.exp(1j * phase) * self._norm

    def field(self, x_m, y_m, freq_hz=None):
        """Complex diffuse field at a point, ``E|h|^2 = 1`` (isotropic antenna)."""
        return complex(np.sum(self.phasors(x_m, y_m, freq_hz)))

    def power_gain(self, x_m, y_m, freq_hz=None):
        """Instantaneous diffuse power relative to its mean (linear, isotropic antenna)."""
        return abs(self.field(x_m, y_m, freq_hz)) ** 2


class OnOffSchedule:
    """Alternating on/off periods with exponential lengths, starting on.

    The operator's network keeps a target SIM busy with calls it places; a
    bystander's phone is on for its own calls.  Both are on/off processes.
    """

    def __init__(self, on_mean_s, off_mean_s, rng, horizon_s=4 * 3600.0, start_on=True):
        times, t, on = [0.0], 0.0, start_on
        while t < horizon_s:
            t += rng.exponential(on_mean_s if on else off_mean_s)
            times.append(t)
            on = not on
        self._toggles = times
        self._start_on = start_on

    def is_on(self, t_s):
        """Whether the emitter transmits at time ``t_s``."""
        n = bisect_right(self._toggles, t_s) - 1
        return (n % 2 == 0) == self._start_on

    def is_on_array(self, t_s):
        """`is_on` for an array of times."""
        n = np.searchsorted(self._toggles, t_s, side="right") - 1
        return (n % 2 == 0) == self._start_on


class AlwaysOn:
    """The schedule of a base station: always on."""

    def is_on(self, t_s):
        return True

    def is_on_array(self, t_s):
        return np.ones(np.shape(t_s), dtype=bool)


class Emitter:
    """One transmitter on the air: a rack SIM, a bystander's phone or a base station.

    Parameters
    ----------
    x_m, y_m, floor : float, float, int
        Position; ``floor`` 0 is street level.
    building : Building or None
        The building it is in (None: outdoors).
    freq_hz, tx_power_dbm : float
        Its (tasked) carrier and its power on the air.
    schedule : OnOffSchedule
        Calls: when it is busy at all.
    shadowing : ShadowingField
    fading : FadingField
    air : Continuous, GsmBurst or TddSlots, optional
        When within its frame, and on which carrier, it is on the air
        (default: continuously on ``freq_hz``).
    rooftop : bool
        A base station above the roofs: it reaches the street over them, so only
        the receiver's own facade stands in its way, and never in line of sight.
    """

    def __init__(self, x_m, y_m, floor, building, freq_hz, tx_power_dbm, schedule, shadowing, fading,
                 label, air=None, rooftop=False, z_m=None):
        self.x_m, self.y_m, self.floor = x_m, y_m, floor
        self.z_m = float(propagation.floor_height_m(floor, propagation.TX_ABOVE_FLOOR_M)) if z_m is None \
            else float(z_m)
        self.building = building
        self.freq_hz = freq_hz
        self.tx_power_dbm = tx_power_dbm
        self.schedule = schedule
        self.shadowing = shadowing
        self.fading = fading
        self.label = label
        self.air = air if air is not None else Continuous(freq_hz)
        self.rooftop = bool(rooftop)
        self.carriers_hz = np.array(self.air.carriers_hz())

    def on_air(self, t_s, freq_hz, half_bw_hz):
        """Whether it transmits into the channel at ``freq_hz`` at the instant ``t_s``."""
        return (self.schedule.is_on(t_s) and self.air.on(t_s)
                and abs(self.air.freq_hz(t_s) - freq_hz) <= half_bw_hz)

    def on_air_fraction(self, t_s, freq_hz, half_bw_hz):
        """Fraction of the instants ``t_s`` (array) at which it transmits into the channel."""
        on = self.schedule.is_on_array(t_s) & self.air.on(t_s)
        on &= np.abs(self.air.freq_hz(t_s) - freq_hz) <= half_bw_hz
        return float(np.mean(on))


class RadioModel:
    """Power at the antenna port from all emitters on a channel.

    Each emitter's signal is a complex field at the antenna: in line of sight
    (the straight path crosses no wall and no floor slab) a specular wave along
    the line to the emitter, pattern-weighted, with ``K/(K+1)`` of the local mean
    power, plus diffuse plane waves with the rest (Rician with the world's K);
    otherwise diffuse waves only (Rayleigh: TR 38.901 gives NLOS and O2I links no
    K-factor).  The diffuse waves arrive around the geometric bearing with the
    world's angular spread, each weighted by the pattern where it arrives.  The
    fields of one emitter add as fields; different emitters add as powers.

    Parameters
    ----------
    world : World
    emitters : list of Emitter
    pattern : dsp.antenna.AntennaPattern
        The handheld's antenna.
    """

    def __init__(self, world, emitters, pattern):
        self.world = world
        self.emitters = emitters
        self.pattern = pattern
        r = world.radio
        self._n_exp = r.path_loss_exp
        self._k_lin = 10.0 ** (r.rician_k_db / 10.0)
        self._spread_los_deg = r.angle_spread_los_deg
        self._spread_nlos_deg = r.angle_spread_nlos_deg
        self._noise_mw = 10.0 ** (noise_power_dbm(r.channel_bw_hz) / 10.0)
        self._half_bw_hz = 0.5 * r.channel_bw_hz
        self._gain_cache = {}
        self._loss_cache = {}
        self._tuned_cache = {}

    def _tuned(self, freq_hz):
        """The emitters with a carrier in the channel at ``freq_hz``, each with that carrier."""
        out = []
        for e in self.emitters:
            near = np.abs(e.carriers_hz - freq_hz) <= self._half_bw_hz
            if near.any():
                out.append((e, float(e.carriers_hz[np.argmax(near)])))
        return out

    def _gain_table(self, freq_hz):
        """Linear gain per whole degree, and its mean over the circle."""
        key = round(freq_hz)
        if key not in self._gain_cache:
            g = 10.0 ** (self.pattern.gain(np.arange(360.0), freq_hz) / 10.0)
            self._gain_cache[key] = (g, float(g.mean()))
        return self._gain_cache[key]

    def building_loss_db(self, emitter, x_m, y_m, rx_building, freq_hz):
        """Facade, indoor and through-building loss on the straight path, capped."""
        return self._path(emitter, x_m, y_m, rx_building, freq_hz)[0]

    def _path(self, emitter, x_m, y_m, rx_building, freq_hz):
        """``(capped loss dB, walls crossed)`` of the straight path, memoised on a 0.25 m lattice.

        The walls do not move, and the officer passes the same spots many times a second.
        """
        key = (id(emitter), round(x_m * 4.0), round(y_m * 4.0), id(rx_building))
        got = self._loss_cache.get(key)
        if got is None:
            if len(self._loss_cache) > 200_000:
                self._loss_cache.clear()
            got = self._loss_cache[key] = self._walls(emitter, x_m, y_m, rx_building, freq_hz)
        return got

    def _walls(self, emitter, x_m, y_m, rx_building, freq_hz):
        if emitter.rooftop:
            # Over the roofs and down into the street: only the receiver's own facade.
            if rx_building is None:
                return 0.0, 0
            return min(self.world.wall_loss_db(rx_building, freq_hz),
                       self.world.radio.building_loss_cap_db), 1
        loss, walls = 0.0, 0
        for b in self.world.buildings:
            n_walls, inside_m = segment_crossings(b.footprint_m, (x_m, y_m), (emitter.x_m, emitter.y_m))
            loss += n_walls * self.world.wall_loss_db(b, freq_hz)
            loss += inside_m * self.world.radio.indoor_loss_db_per_m
            walls += n_walls
        return min(loss, self.world.radio.building_loss_cap_db), walls

    def _slabs(self, emitter, rx_floor, rx_building):
        if rx_building is not None and rx_building is emitter.building:
            return abs(rx_floor - emitter.floor)
        return 0

    def mean_power_dbm(self, emitter, x_m, y_m, z_m, rx_floor, rx_building):
        """Local mean power (dBm) into an isotropic antenna: path loss, buildings, floors, shadowing."""
        d_m = float(propagation.distance_m(x_m, y_m, z_m, emitter.x_m, emitter.y_m, emitter.z_m))
        p0_dbm = emitter.tx_power_dbm - fspl_1m_db(emitter.freq_hz)
        mean = float(propagation.mean_rssi_dbm(d_m, p0_dbm, self._n_exp))
        mean -= self.building_loss_db(emitter, x_m, y_m, rx_building, emitter.freq_hz)
        slabs = self._slabs(emitter, rx_floor, rx_building)
        if slabs:
            first_db, further_db = FLOOR_LOSS_DB[rx_building.use]
            mean -= first_db + further_db * (slabs - 1)
        return mean + emitter.shadowing.at(x_m, y_m)

    def line_of_sight(self, emitter, x_m, y_m, rx_floor, rx_building):
        """True when the straight path crosses no wall and no floor slab (and the emitter is not on a roof)."""
        if emitter.rooftop:
            return False
        _, walls = self._path(emitter, x_m, y_m, rx_building, emitter.freq_hz)
        return walls == 0 and self._slabs(emitter, rx_floor, rx_building) == 0

    def field_power_mw(self, emitter, carrier_hz, x_m, y_m, z_m, rx_floor, rx_building, heading_deg):
        """Instantaneous power (mW) of one emitter at the antenna port: ``|h_direct + h_diffuse|^2``."""
        gains, _ = self._gain_table(carrier_hz)
        mean_mw = 10.0 ** (self.mean_power_dbm(emitter, x_m, y_m, z_m, rx_floor, rx_building) / 10.0)
        h = math.radians(heading_deg)
        ax, ay = x_m + ANTENNA_ARM_M * math.sin(h), y_m + ANTENNA_ARM_M * math.cos(h)
        bearing = math.degrees(math.atan2(emitter.x_m - x_m, emitter.y_m - y_m))
        if self.line_of_sight(emitter, x_m, y_m, rx_floor, rx_building):
            k = self._k_lin
            d_m = math.sqrt((emitter.x_m - ax) ** 2 + (emitter.y_m - ay) ** 2 + (emitter.z_m - z_m) ** 2)
            g_dir = gains[int(round(bearing - heading_deg)) % 360]
            direct = math.sqrt(mean_mw * k / (k + 1.0) * g_dir) * np.exp(
                -2j * math.pi * carrier_hz * d_m / C_M_S)
            p_diffuse_mw, spread = mean_mw / (k + 1.0), self._spread_los_deg
        else:
            direct, p_diffuse_mw, spread = 0.0, mean_mw, self._spread_nlos_deg
        f = emitter.fading
        arrive = np.rint(bearing - heading_deg + spread * f.z).astype(int) % 360
        diffuse = math.sqrt(p_diffuse_mw) * np.sum(np.sqrt(gains[arrive]) * f.phasors(ax, ay, carrier_hz))
        return abs(direct + diffuse) ** 2

    def power_dbm(self, freq_hz, t_s, x_m, y_m, z_m, rx_floor, rx_building, heading_deg, avg_s=0.0):
        """Total power at the antenna port in the channel at ``freq_hz``: emitters plus kTB.

        ``avg_s`` 0: the power at the instant ``t_s`` (an emitter counts when it is
        on the air in the channel then: its call, its timeslot or subframe, its
        hopping carrier).  ``avg_s`` > 0: the mean linear power over
        ``[t_s - avg_s, t_s]``, the officer held where he is at ``t_s``.
        """
        total_mw = self._noise_mw
        hb = self._half_bw_hz
        times = None
        if avg_s > 0.0:
            n = int(min(2048, max(16, math.ceil(avg_s / 20e-6))))
            times = t_s - avg_s + (np.arange(n) + 0.5) * (avg_s / n)
        key = round(freq_hz)
        tuned = self._tuned_cache.get(key)
        if tuned is None:
            tuned = self._tuned_cache[key] = self._tuned(freq_hz)
        for e, carrier in tuned:
            if times is None:
                if not e.on_air(t_s, freq_hz, hb):
                    continue
                share = 1.0
            else:
                share = e.on_air_fraction(times, freq_hz, hb)
                if share == 0.0:
                    continue
            total_mw += share * self.field_power_mw(e, carrier, x_m, y_m, z_m, rx_floor, rx_building,
                                                    heading_deg)
        return 10.0 * math.log10(total_mw)
