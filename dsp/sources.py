"""IQ sources: SigMF recordings (read and write) and a live SoapySDR receiver.

SigMF (PyPI ``sigmf``) is the standard container for IQ recordings: a JSON
``.sigmf-meta`` beside a raw ``.sigmf-data`` file.  Recordings written here are
``cf32_le`` with the sample rate, the tuned frequency and the receiver gain
(capture field ``rfhound:gain_db``, declared as an optional extension).

SoapySDR is optional: its Python bindings come from Debian's
``python3-soapysdr``, not from PyPI, so :class:`SoapySource` imports them only
when opened and says what to install when they are missing.
"""

import math
from pathlib import Path

import numpy as np

_GAIN_KEY = "rfhound:gain_db"
_EXTENSION = {"name": "rfhound", "version": "0.1.0", "optional": True}


class SourceError(Exception):
    """An IQ source cannot be opened or read; the message says what to do."""


#: Bytes per complex sample of the SigMF complex datatypes.
_SAMPLE_BYTES = {"cf64": 16, "cf32": 8, "ci32": 8, "ci16": 4, "ci8": 2,
                 "cu32": 8, "cu16": 4, "cu8": 2}
#: Bytes of data looked at to tell whether the declared datatype fits it.
_PROBE_BYTES = 1 << 16


def _meta_path(path):
    p = Path(path)
    name = p.name
    for ext in (".sigmf-meta", ".sigmf-data"):
        if name.endswith(ext):
            return p.with_name(name[: -len(ext)] + ".sigmf-meta")
    if name.endswith(".sigmf"):
        return p
    return p.with_name(name + ".sigmf-meta")


def write_sigmf(path, iq, fs, center_hz, *, gain_db=None, description=None, datetime_iso=None):
    """Write complex IQ as a SigMF recording (cf32_le).

    Parameters
    ----------
    path : str or Path
        Base name; ``.sigmf-meta`` / ``.sigmf-data`` are added (an existing
        suffix of either is accepted).
    iq : ndarray of complex
    fs : float
        Sample rate, Hz.
    center_hz : float
        Tuned centre frequency, Hz.
    gain_db : float, optional
        Receiver gain in force (needed to calibrate to dBm later).
    description : str, optional
    datetime_iso : str, optional
        Capture start, ISO 8601 UTC (e.g. ``"2026-11-28T12:00:00Z"``).

    Returns
    -------
    Path
        The ``.sigmf-meta`` path.
    """
    import sigmf
    from sigmf import SigMFFile

    arr = np.asarray(iq)
    if arr.dtype.kind != "c" or arr.ndim != 1 or arr.size == 0:
        raise ValueError("iq must be a non-empty 1-D complex array")
    meta_path = _meta_path(path)
    base = meta_path.with_name(meta_path.name[: -len(".sigmf-meta")])
    data_path = base.with_name(base.name + ".sigmf-data")
    arr.astype(np.complex64).tofile(data_path)
    global_info = {
        sigmf.DATATYPE_KEY: "cf32_le",
        sigmf.SAMPLE_RATE_KEY: float(fs),
        sigmf.RECORDER_KEY: "rfhound",
    }
    if description:
        global_info[sigmf.DESCRIPTION_KEY] = str(description)
    if gain_db is not None:
        global_info[sigmf.EXTENSIONS_KEY] = [_EXTENSION]
    meta = SigMFFile(data_file=str(data_path), global_info=global_info)
    capture = {sigmf.FREQUENCY_KEY: float(center_hz)}
    if datetime_iso:
        capture[sigmf.DATETIME_KEY] = datetime_iso
    if gain_db is not None:
        capture[_GAIN_KEY] = float(gain_db)
    meta.add_capture(0, metadata=capture)
    meta.tofile(str(meta_path), overwrite=True)
    return meta_path


def _open(path):
    import sigmf
    from sigmf.error import SigMFError

    meta_path = _meta_path(path)
    if not meta_path.exists():
        raise SourceError(f"{path}: no such SigMF recording (looked for {meta_path})")
    try:
        return sigmf.fromfile(str(meta_path), skip_checksum=True)
    except (SigMFError, ValueError, KeyError, OSError, TypeError, AttributeError, IndexError,
            RecursionError) as exc:
        # A hostile or broken metadata file: one line, never a traceback.
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{meta_path}: not a readable SigMF recording ({detail})") from None


def _number(value, path, key):
    try:
        number = float(value) if isinstance(value, (int, float)) and \
            not isinstance(value, bool) else math.nan
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise SourceError(f"{path}: {key} must be a finite number, not {value!r:.40}")
    return number


def looks_like_float32(head):
    """Whether raw bytes read as little-endian float32 are mostly plausible IQ values.

    Real ``cf32`` recordings hold finite values between 1e-12 and 1e6 in magnitude (zeros
    aside); integer samples read as float32 give exponents spread over the whole range
    (1e-38 .. 1e38, NaN), so fewer than a few percent fall inside.
    """
    words = np.frombuffer(head[: len(head) // 4 * 4], dtype="<f4")
    with np.errstate(invalid="ignore", over="ignore"):
        nonzero = words[words != 0]
        if nonzero.size < 64:
            return False
        mag = np.abs(nonzero.astype(np.float64))
        plausible = np.isfinite(mag) & (mag > 1e-12) & (mag < 1e6)
    return bool(plausible.mean() > 0.99)


def check_data(path, datatype, data_path, n_channels=1):
    """Refuse a data file that does not fit its declared complex datatype.

    The size must be a whole number of samples; integer datatypes over data that read as
    float32 IQ (``ci8`` declared over ``cf32``), and ``cf32``/``cf64`` holding non-finite or
    absurd values, are refused: either would give exit 0 and nonsense powers.
    """
    base = str(datatype).split("_")[0]
    per = _SAMPLE_BYTES.get(base)
    if per is None:
        raise SourceError(f"{path}: datatype {datatype} is not a complex SigMF type rfhound reads "
                          f"({', '.join(sorted(_SAMPLE_BYTES))})")
    try:
        size = Path(data_path).stat().st_size
        with open(data_path, "rb") as fh:
            head = fh.read(_PROBE_BYTES)
    except OSError as exc:
        raise SourceError(f"{data_path}: cannot read the SigMF data ({exc.strerror})") from None
    if size % (per * n_channels):
        raise SourceError(f"{data_path}: {size} bytes is not a whole number of {datatype} samples "
                          f"({per * n_channels} bytes each): is core:datatype right?")
    if base[1] in "iu" and looks_like_float32(head):
        raise SourceError(f"{data_path}: declared {datatype} but the samples read as float32 IQ: "
                          f"set core:datatype to cf32_le")
    if base[1] == "f":
        endian = ">" if str(datatype).endswith("_be") else "<"
        values = np.frombuffer(head[: len(head) // (per // 2) * (per // 2)],
                               dtype=f"{endian}f{per // 2}")
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~np.isfinite(values) | (np.abs(values) > 1e6)
        if values.size and bad.mean() > 0.01:
            raise SourceError(f"{data_path}: declared {datatype} but {bad.mean():.0%} of the first "
                              f"samples are not finite numbers below 1e6: is core:datatype right?")


meta_path = _meta_path


def sigmf_info(path):
    """Sample rate, centre frequency, gain and length of a SigMF recording.

    Returns
    -------
    dict
        ``fs``, ``center_hz``, ``gain_db`` (None if not recorded), ``datetime`` (the
        first capture's ``core:datetime`` string, or None), ``n_samples``, ``datatype``,
        ``meta_path``.
    """
    import sigmf

    rec = _open(path)
    datatype = rec.get_global_field(sigmf.DATATYPE_KEY)
    if not isinstance(datatype, str) or not datatype.startswith("c"):
        raise SourceError(f"{path}: datatype {datatype!r:.40} is not complex; rfhound needs complex IQ")
    if rec.num_channels != 1:
        raise SourceError(f"{path}: {rec.num_channels} channels; record one channel")
    fs = rec.get_global_field(sigmf.SAMPLE_RATE_KEY)
    if fs is None:
        raise SourceError(f"{path}: core:sample_rate missing from the metadata")
    fs = _number(fs, path, "core:sample_rate")
    if fs <= 0:
        raise SourceError(f"{path}: core:sample_rate must be above 0 Hz, not {fs:g}")
    captures = rec.get_captures()
    first = captures[0] if isinstance(captures, list) and captures and \
        isinstance(captures[0], dict) else {}
    center = first.get(sigmf.FREQUENCY_KEY)
    if center is None:
        raise SourceError(f"{path}: core:frequency missing from the first capture")
    center = _number(center, path, "core:frequency")
    gain_db = first.get(_GAIN_KEY)
    if gain_db is not None:
        gain_db = _number(gain_db, path, _GAIN_KEY)
    data_path = getattr(rec, "data_file", None)
    if data_path is None or not Path(data_path).exists():
        raise SourceError(f"{path}: the .sigmf-data file is missing")
    check_data(path, datatype, data_path)
    return {
        "fs": float(fs),
        "center_hz": float(center),
        "gain_db": gain_db,
        "datetime": captures[0].get(sigmf.DATETIME_KEY),
        "n_samples": int(rec.sample_count),
        "datatype": datatype,
        "meta_path": _meta_path(path),
    }


def parse_datetime(text):
    """A SigMF ``core:datetime`` (ISO 8601 UTC, any number of fraction digits) as seconds.

    Returns
    -------
    whole_s : int
        Unix seconds.
    frac_s : float
        Fraction of the second, kept apart so that nanoseconds survive a float.

    Raises
    ------
    SourceError
        Not ``YYYY-MM-DDTHH:MM:SS[.fff...]Z``.

    Examples
    --------
    >>> parse_datetime("2026-11-28T12:00:00.012345678Z")
    (1795867200, 0.012345678)
    """
    import calendar
    import re

    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z", str(text).strip())
    if m is None:
        raise SourceError(f"core:datetime {text!r} is not ISO 8601 UTC (YYYY-MM-DDTHH:MM:SS.fffZ)")
    y, mo, d, h, mi, sec = (int(v) for v in m.groups()[:6])
    try:
        whole = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    except (ValueError, OverflowError):
        raise SourceError(f"core:datetime {text!r} is not a valid date") from None
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec <= 60):
        raise SourceError(f"core:datetime {text!r} is not a valid date")
    return whole, float(m.group(7) or 0.0)


def read_sigmf(path, start=0, count=-1):
    """Samples of a SigMF recording as complex64 (integer formats scaled to +-1).

    Returns
    -------
    iq : ndarray of complex64
    info : dict
        As :func:`sigmf_info`.
    """
    info = sigmf_info(path)
    rec = _open(path)
    try:
        iq = rec.read_samples(start_index=int(start), count=int(count))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read samples ({exc})") from None
    return np.ascontiguousarray(iq, dtype=np.complex64), info


def iter_sigmf(path, chunk_samples=1 << 20):
    """Yield complex64 chunks of a SigMF recording, in order, without loading it whole."""
    info = sigmf_info(path)
    rec = _open(path)
    for start in range(0, info["n_samples"], int(chunk_samples)):
        count = min(int(chunk_samples), info["n_samples"] - start)
        yield np.ascontiguousarray(rec.read_samples(start_index=start, count=count),
                                   dtype=np.complex64)


def parse_soapy_spec(spec):
    """``"soapy:driver=rtlsdr,serial=0001"`` -> ``{"driver": "rtlsdr", "serial": "0001"}``."""
    text = str(spec)
    if not text.startswith("soapy:"):
        raise SourceError(f"source {spec!r}: expected soapy:key=value,... (e.g. soapy:driver=rtlsdr)")
    args = {}
    for item in filter(None, text[len("soapy:"):].split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SourceError(f"source {spec!r}: {item!r} is not key=value")
        args[key.strip()] = value.strip()
    return args


class SoapySource:
    """Receive-only live IQ from a SoapySDR device.

    Parameters
    ----------
    args : dict or str
        Device arguments (``{"driver": "rtlsdr"}``) or a ``soapy:...`` spec.
    center_hz, fs : float
        Tuned frequency and sample rate, Hz.
    gain_db : float
        Overall receive gain.
    channel : int

    Raises
    ------
    SourceError
        SoapySDR not importable, no matching device, or the device refused.
    """

    def __init__(self, args, center_hz, fs, gain_db, channel=0):
        try:
            import SoapySDR
        except ImportError:
            raise SourceError(
                "SoapySDR Python bindings are not importable: install Debian python3-soapysdr "
                "plus the module for your radio (e.g. soapysdr-module-rtlsdr) and make them "
                "visible to this Python (a venv created with --system-site-packages)") from None
        self._soapy = SoapySDR
        self.args = parse_soapy_spec(args) if isinstance(args, str) else dict(args)
        found = SoapySDR.Device.enumerate(self.args)
        if not found:
            raise SourceError(
                f"no SoapySDR device matches {self.args or 'any'}: check the cable and "
                "'SoapySDRUtil --find'")
        try:
            self._dev = SoapySDR.Device(self.args)
            self._dev.setSampleRate(SoapySDR.SOAPY_SDR_RX, channel, float(fs))
            self._dev.setFrequency(SoapySDR.SOAPY_SDR_RX, channel, float(center_hz))
            self._dev.setGain(SoapySDR.SOAPY_SDR_RX, channel, float(gain_db))
            self._stream = self._dev.setupStream(SoapySDR.SOAPY_SDR_RX, SoapySDR.SOAPY_SDR_CF32,
                                                 [channel])
            self._dev.activateStream(self._stream)
        except (RuntimeError, ValueError) as exc:
            raise SourceError(f"SoapySDR device {self.args}: {exc}") from None
        self.fs = float(self._dev.getSampleRate(SoapySDR.SOAPY_SDR_RX, channel))
        self.center_hz = float(self._dev.getFrequency(SoapySDR.SOAPY_SDR_RX, channel))
        self.gain_db = float(self._dev.getGain(SoapySDR.SOAPY_SDR_RX, channel))

    def read(self, n, timeout_s=1.0):
        """Exactly ``n`` complex64 samples; SourceError when the device keeps failing."""
        out = np.empty(int(n), dtype=np.complex64)
        got = 0
        failures = 0
        while got < out.size:
            sr = self._dev.readStream(self._stream, [out[got:]], out.size - got,
                                      timeoutUs=int(timeout_s * 1e6))
            if sr.ret > 0:
                got += sr.ret
                continue
            failures += 1
            if failures > 10:
                raise SourceError(f"SoapySDR device {self.args}: readStream returned {sr.ret} "
                                  "repeatedly (device lost or overflowing)")
        return out

    def close(self):
        """Stop and release the stream."""
        if getattr(self, "_stream", None) is not None:
            self._dev.deactivateStream(self._stream)
            self._dev.closeStream(self._stream)
            self._stream = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
