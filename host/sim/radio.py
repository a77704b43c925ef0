"""What one emitter delivers to the handheld's antenna port.

The mean is the `dsp.propagation` log-distance model (the same one the locator
fits) with the free-space loss at 1 m as its reference, plus what that model
leaves out and a real city adds: facade penetration (3GPP TR 38.901 table
7.4.3-1), loss inside buildings (0.5 dB/m, TR 38.901 O2I indoor term), floor
slabs (ITU-R P.1238 factors) and whole buildings in the way, capped because
past a point the wave diffracts round them instead.  Around the mean,
spatially correlated log-normal shadowing (a Gaussian random field with the
exponential correlation Gudmundson measured) and Rician fast fading built from
plane waves, so it decorrelates over half a wavelength as real fading does.
All randomness is drawn once from a seeded generator: the field is a fixed
function of position, and a reading depends only on where and when it is taken.
"""

import math
from bisect import bisect_right

import numpy as np

from dsp import propagation
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
    """Zero-mean Gaussian field in dB with covariance sigma^2 exp(-r / corr_m).

    Drawn on a regular grid by circulant embedding: white noise filtered by the
    square root of the covariance's spectrum, on a grid padded beyond the
    correlation length so the periodic wrap does not correlate opposite edges.
    Values between grid points are interpolated bilinearly.
    """

    def __init__(self, extent_m, sigma_db, corr_m, rng, spacing_m=2.0):
        x0, x1, y0, y1 = extent_m
        pad_m = 4.0 * corr_m
        nx = int(math.ceil((x1 - x0 + pad_m) / spacing_m))
        ny = int(math.ceil((y1 - y0 + pad_m) / spacing_m))
        self._x0, self._y0, self._d = x0, y0, spacing_m
        self._nx, self._ny = int((x1 - x0) / spacing_m) + 2, int((y1 - y0) / spacing_m) + 2
        if sigma_db == 0.0:
            self._grid = np.zeros((self._ny, self._nx))
            return
        lag_x = np.minimum(np.arange(nx), nx - np.arange(nx)) * spacing_m
        lag_y = np.minimum(np.arange(ny), ny - np.arange(ny)) * spacing_m
        r = np.hypot(lag_y[:, None], lag_x[None, :])
        spectrum = np.maximum(np.fft.fft2(np.exp(-r / corr_m)).real, 0.0)
        noise = rng.standard_normal((ny, nx))
        field = np.fft.ifft2(np.fft.fft2(noise) * np.sqrt(spectrum)).real
        # Unit variance by construction of the spectrum; rescale the finite
        # draw so sigma_db is what the world file says.
        field = field[: self._ny, : self._nx]
        self._grid = sigma_db * (field - field.mean()) / field.std()

    def at(self, x_m, y_m):
        """Shadowing (dB) at a point."""
        gx = min(max((x_m - self._x0) / self._d, 0.0), self._nx - 1.001)
        gy = min(max((y_m - self._y0) / self._d, 0.0), self._ny - 1.001)
        i, j = int(gy), int(gx)
        fy, fx = gy - i, gx - j
        g = self._grid
        return float((1 - fy) * ((1 - fx) * g[i, j] + fx * g[i, j + 1])
                     + fy * ((1 - fx) * g[i + 1, j] + fx * g[i + 1, j + 1]))


class FadingField:
    """Diffuse multipath as a sum of plane waves: |h|^2 with unit mean, Rayleigh in amplitude.

    Clarke's model: ``h(p) = sum_k exp(j (2 pi / lambda) u_k . p + j phi_k) / sqrt(K)``
    with arrival directions ``u_k`` and phases ``phi_k`` uniform.
    """

    def __init__(self, freq_hz, rng, n_waves=24):
        k = 2.0 * math.pi * freq_hz / C_M_S
        theta = rng.uniform(0.0, 2.0 * math.pi, n_waves)
        self._kx, self._ky = k * np.cos(theta), k * np.sin(theta)
        self._phi = rng.uniform(0.0, 2.0 * math.pi, n_waves)
        self._norm = 1.0 / n_waves

    def power_gain(self, x_m, y_m):
        """Instantaneous diffuse power relative to its mean (linear)."""
        phase = self._kx * x_m + self._ky * y_m + self._phi
        return float((np.sum(np.cos(phase)) ** 2 + np.sum(np.sin(phase)) ** 2) * self._norm)


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


class Emitter:
    """One transmitting handset: a rack SIM or a bystander's phone.

    Parameters
    ----------
    x_m, y_m, floor : float, float, int
        Position; ``floor`` 0 is street level.
    building : Building or None
        The building it is in (None: outdoors).
    freq_hz, tx_power_dbm : float
    schedule : OnOffSchedule
    shadowing : ShadowingField
    fading : FadingField
    """

    def __init__(self, x_m, y_m, floor, building, freq_hz, tx_power_dbm, schedule, shadowing, fading,
                 label):
        self.x_m, self.y_m, self.floor = x_m, y_m, floor
        self.z_m = float(propagation.floor_height_m(floor, propagation.TX_ABOVE_FLOOR_M))
        self.building = building
        self.freq_hz = freq_hz
        self.tx_power_dbm = tx_power_dbm
        self.schedule = schedule
        self.shadowing = shadowing
        self.fading = fading
        self.label = label


class RadioModel:
    """Power at the antenna port from all emitters on a channel.

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
        k_lin = 10.0 ** (r.rician_k_db / 10.0)
        self._w_direct = k_lin / (k_lin + 1.0)
        self._w_diffuse = 1.0 / (k_lin + 1.0)
        self._noise_mw = 10.0 ** (noise_power_dbm(r.channel_bw_hz) / 10.0)
        self._half_bw_hz = 0.5 * r.channel_bw_hz
        self._gain_cache = {}
        self._loss_cache = {}

    def _gain_table(self, freq_hz):
        """Linear gain per whole degree, and its mean over the circle (diffuse arrivals)."""
        key = round(freq_hz)
        if key not in self._gain_cache:
            g = 10.0 ** (self.pattern.gain(np.arange(360.0), freq_hz) / 10.0)
            self._gain_cache[key] = (g, float(g.mean()))
        return self._gain_cache[key]

    def building_loss_db(self, emitter, x_m, y_m, rx_building, freq_hz):
        """Facade, indoor and through-building loss on the straight path, capped.

        Memoised on a 0.25 m lattice: the walls do not move, and the officer
        passes the same spots many times a second.
        """
        key = (id(emitter), round(x_m * 4.0), round(y_m * 4.0), id(rx_building))
        loss = self._loss_cache.get(key)
        if loss is None:
            if len(self._loss_cache) > 200_000:
                self._loss_cache.clear()
            loss = self._loss_cache[key] = self._building_loss_db(emitter, x_m, y_m, freq_hz)
        return loss

    def _building_loss_db(self, emitter, x_m, y_m, freq_hz):
        loss = 0.0
        for b in self.world.buildings:
            n_walls, inside_m = segment_crossings(b.footprint_m, (x_m, y_m), (emitter.x_m, emitter.y_m))
            loss += n_walls * self.world.wall_loss_db(b, freq_hz)
            loss += inside_m * self.world.radio.indoor_loss_db_per_m
        return min(loss, self.world.radio.building_loss_cap_db)

    def mean_power_dbm(self, emitter, x_m, y_m, z_m, rx_floor, rx_building):
        """Local mean power (dBm) into an isotropic antenna: path loss, buildings, floors, shadowing."""
        d_m = float(propagation.distance_m(x_m, y_m, z_m, emitter.x_m, emitter.y_m, emitter.z_m))
        p0_dbm = emitter.tx_power_dbm - fspl_1m_db(emitter.freq_hz)
        mean = float(propagation.mean_rssi_dbm(d_m, p0_dbm, self._n_exp))
        mean -= self.building_loss_db(emitter, x_m, y_m, rx_building, emitter.freq_hz)
        if rx_building is not None and rx_building is emitter.building:
            first_db, further_db = FLOOR_LOSS_DB[rx_building.use]
            slabs = abs(rx_floor - emitter.floor)
            mean -= (first_db if slabs >= 1 else 0.0) + further_db * max(slabs - 1, 0)
        return mean + emitter.shadowing.at(x_m, y_m)

    def power_dbm(self, freq_hz, t_s, x_m, y_m, z_m, rx_floor, rx_building, heading_deg):
        """Total power at the antenna port on the channel at ``freq_hz``: emitters plus kTB.

        The direct (specular) part arrives along the line to the emitter and is
        weighted by the pattern; the diffuse part arrives from all around and
        is weighted by the pattern's mean gain.
        """
        total_mw = self._noise_mw
        gains, g_mean = self._gain_table(freq_hz)
        h = math.radians(heading_deg)
        ax, ay = x_m + ANTENNA_ARM_M * math.sin(h), y_m + ANTENNA_ARM_M * math.cos(h)
        for e in self.emitters:
            if abs(e.freq_hz - freq_hz) > self._half_bw_hz or not e.schedule.is_on(t_s):
                continue
            mean_mw = 10.0 ** (self.mean_power_dbm(e, x_m, y_m, z_m, rx_floor, rx_building) / 10.0)
            bearing = math.degrees(math.atan2(e.x_m - x_m, e.y_m - y_m))
            g_dir = gains[int(round(bearing - heading_deg)) % 360]
            total_mw += mean_mw * (self._w_direct * g_dir
                                   + self._w_diffuse * g_mean * e.fading.power_gain(ax, ay))
        return 10.0 * math.log10(total_mw)


