"""The simulated bench: the virtual handheld wired to the simulated instruments.

What the handheld's RF port sees is computed from the instruments' own state,
read back over their own protocols, so the sweep code cannot tell it from a
real bench:

- calibration: the pyvisa-sim generator's frequency, level and output state
  (``FREQ?``, ``POW?``, ``OUTP?``) minus the cable loss;
- pattern: a fixed source seen through a known antenna pattern at the angle
  the rotator reports (``p`` to rotctld).

The handheld is :class:`host.virtual.handheld.VirtualHandheld` (the real firmware
in the MicroPython unix port) with a fake AD9363 whose true response is
:data:`TRUE_RESPONSE`, so the fitted coefficients can be printed next to the truth.
"""
import contextlib
import shutil
import socket
import subprocess
import threading
import time

from host.bench import response
from host.virtual.env import StaticEnv

#: True receive-chain response of the simulated handheld (host/virtual/chips.RssiResponse).
TRUE_RESPONSE = {
    "offset_db": 12.3, "slope": 0.97, "knee_dbfs": -6.0, "noise_floor_dbm": -104.5,
    "noise_db": 0.3, "temp_coef_db_per_c": 0.021, "t_ref_c": 25.0,
}
#: Device id the simulated handheld reports.
SIM_DEVICE_ID = 0x52460B01
#: The firmware's hunt gain, used by BENCH mode when the host asks for no gain.
FIRMWARE_DEFAULT_GAIN_DB = 40
# Power at the RF port when nothing reaches it: far below any noise floor.
_NO_SIGNAL_DBM = -200.0
# The handheld's bench measurement bandwidth (firmware Hunter.set_bench: 1 MHz).
_HALF_BANDWIDTH_HZ = 0.5e6
# State read-backs are cached this long: the fake radio asks per RSSI read.
_CACHE_S = 0.005


def true_band_response(gain_db=FIRMWARE_DEFAULT_GAIN_DB):
    """:data:`TRUE_RESPONSE` in the bench's coefficients (knee input-referred at ``gain_db``)."""
    t = TRUE_RESPONSE
    return response.BandResponse(
        offset_db=t["offset_db"], slope=t["slope"],
        knee_dbm=t["offset_db"] + t["slope"] * (t["knee_dbfs"] - gain_db),
        smoothness=1.0,  # the fake's soft limiter is Rapp with s = 1
        noise_floor_dbm=t["noise_floor_dbm"], temp_coeff_db_per_c=t["temp_coef_db_per_c"],
        t_ref_c=t["t_ref_c"])


def triangle_temperature(low_c=15.0, high_c=40.0, period_s=12.0):
    """A climate chamber cycling between two temperatures (triangle wave in time)."""
    def temperature_c(t_s):
        phase = (t_s / period_s) % 1.0
        frac = 2.0 * phase if phase < 0.5 else 2.0 * (1.0 - phase)
        return low_c + (high_c - low_c) * frac
    return temperature_c


class _Cached:
    def __init__(self, read):
        self._read = read
        self._lock = threading.Lock()
        self._value = None
        self._at = -1.0

    def get(self):
        with self._lock:
            now = time.monotonic()
            if now - self._at > _CACHE_S:
                self._value = self._read()
                self._at = now
            return self._value


class CableEnv(StaticEnv):
    """The handheld on the calibration bench, fed by the generator through a cable.

    Parameters
    ----------
    generator : host.bench.generator.SignalGenerator
    cable_loss_db : float
        True loss of the cable and attenuators between generator and handheld.
    temperature_c : callable, optional
        ``temperature_c(t_s)``: the handheld's temperature over time.
    """

    def __init__(self, generator, cable_loss_db, *, temperature_c=None):
        super().__init__()
        self.cable_loss_db = cable_loss_db
        self._state = _Cached(self._read_state(generator))
        self._temperature = temperature_c

    @staticmethod
    def _read_state(generator):
        def read():
            try:
                return generator.state()
            except Exception:  # a closed generator puts nothing on the cable
                return None
        return read

    def rf_power_dbm(self, freq_hz, t_s):
        state = self._state.get()
        if state is None or not state.output_on or \
                abs(freq_hz - state.frequency_hz) > _HALF_BANDWIDTH_HZ:
            return _NO_SIGNAL_DBM
        return state.level_dbm - self.cable_loss_db

    def temperature_c(self, t_s):
        return self.temperature if self._temperature is None else self._temperature(t_s)


class TurntableEnv(StaticEnv):
    """The handheld on the turntable, a fixed source at turntable azimuth 0.

    Parameters
    ----------
    rotator : host.bench.rotator.Rotctld
        A connection of its own (the sweep uses another).
    gain_dbi : callable
        ``gain_dbi(angle_deg)``: the antenna's true gain clockwise from boresight.
    isotropic_dbm : float
        Power an isotropic antenna would receive at the turntable.
    """

    def __init__(self, rotator, gain_dbi, isotropic_dbm):
        super().__init__()
        self._azimuth = _Cached(lambda: rotator.position()[0])
        self._gain_dbi = gain_dbi
        self.isotropic_dbm = isotropic_dbm

    def rf_power_dbm(self, freq_hz, t_s):
        # boresight turned to az: the source (at az 0) is -az clockwise from boresight
        angle_deg = (-self._azimuth.get()) % 360.0
        return self.isotropic_dbm + float(self._gain_dbi(angle_deg))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dummy_rotctld(port=None, *, timeout_s=5.0):
    """Run Hamlib's dummy rotator (``rotctld -m 1``) on 127.0.0.1; yield its port.

    The dummy turns at a fixed 6 deg/s like a real turntable, so moves take time.
    """
    binary = shutil.which("rotctld")
    if binary is None:
        raise FileNotFoundError(
            "rotctld not found: install Hamlib's tools (Debian: libhamlib-utils)")
    port = port or _free_port()
    proc = subprocess.Popen([binary, "-m", "1", "-T", "127.0.0.1", "-t", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rotctld -m 1 did not start on port {port}") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def virtual_handheld(env, *, runtime="micropython", rssi_model=None):
    """The virtual handheld in ``env`` as a :class:`host.bench.handheld.BenchHandheld`."""
    virtual, link, handheld = _handheld(env, runtime, rssi_model or TRUE_RESPONSE)
    try:
        yield handheld
    finally:
        link.stop()
        virtual.stop()


def _handheld(env, runtime, rssi_model):
    from host.bench.handheld import BenchHandheld
    from host.link import Link
    from host.virtual.device import DeviceClient
    from host.virtual.handheld import VirtualHandheld

    virtual = VirtualHandheld(env, device_id=SIM_DEVICE_ID, rssi_model=dict(rssi_model),
                              runtime=runtime)
    link = Link(virtual.start()).start()
    try:
        # the virtual handheld has just booted: its HELLO is on the way
        return virtual, link, BenchHandheld(DeviceClient(link), hello_timeout_s=15.0)
    except BaseException:
        link.stop()
        virtual.stop()
        raise


@contextlib.contextmanager
def calibration_bench(cable_loss_db=10.0, *, temperature_c=None, runtime="micropython",
                      rssi_model=None):
    """The simulated calibration bench; yields ``(generator, bench_handheld, virtual)``.

    Parameters
    ----------
    cable_loss_db : float
        True cable loss (the technician's value matches it).
    temperature_c : callable, optional
        Handheld temperature over time; default :func:`triangle_temperature`.
    runtime : {"micropython", "cpython"}
        How the virtual handheld runs the firmware.
    rssi_model : dict, optional
        True receiver response; default :data:`TRUE_RESPONSE`.
    """
    from host.bench.generator import open_generator

    generator = open_generator(simulated=True)
    env = CableEnv(generator, cable_loss_db, temperature_c=temperature_c or triangle_temperature())
    try:
        virtual, link, handheld = _handheld(env, runtime, rssi_model or TRUE_RESPONSE)
        try:
            yield generator, handheld, virtual
        finally:
            link.stop()
            virtual.stop()
    finally:
        generator.close()


@contextlib.contextmanager
def turntable_bench(gain_dbi, isotropic_dbm, *, runtime="micropython", rssi_model=None):
    """The simulated antenna range; yields ``(rotator, bench_handheld, virtual)``.

    Hamlib's dummy rotator turns the virtual handheld, whose antenna has the true
    pattern ``gain_dbi(angle_deg)``, in front of a source giving ``isotropic_dbm``.
    """
    from host.bench.rotator import Rotctld

    with dummy_rotctld() as port:
        sensor = Rotctld("127.0.0.1", port)
        rotator = Rotctld("127.0.0.1", port)
        env = TurntableEnv(sensor, gain_dbi, isotropic_dbm)
        env.temperature = TRUE_RESPONSE["t_ref_c"]
        try:
            virtual, link, handheld = _handheld(env, runtime, rssi_model or TRUE_RESPONSE)
            try:
                yield rotator, handheld, virtual
            finally:
                link.stop()
                virtual.stop()
        finally:
            rotator.close()
            sensor.close()
