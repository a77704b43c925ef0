"""The calibration sweep: plan, resumable results file, and the measuring loop.

The results file is JSON Lines: a header line that names the run (device,
generator, cable loss), one ``point`` line per finished point and ``temp`` lines
with the handheld's temperature reports (1 Hz STATUS), each flushed and fsynced
as soon as it is known. Point temperatures are interpolated from the ``temp``
lines at fit time, so a point never waits for the next STATUS frame.

After an interruption the same command finds the file, checks that its header
matches, and measures only the points still missing; a half-written last line
(power cut mid-write) is dropped.
"""
import dataclasses
import json
import os
import time

import numpy as np

from host.bench.handheld import reading_db

FORMAT = "rfhound-bench-sweep/1"


class ResumeError(ValueError):
    """The results file belongs to another run (device, cable or generator)."""


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One generator setting: CW frequency and level at the handheld's RF port."""

    band: str
    freq_hz: float
    input_dbm: float

    @property
    def key(self):
        return (round(self.freq_hz), round(self.input_dbm * 100))


def plan_points(bands, levels_dbm, *, freqs_per_band=3, seed=0):
    """Points of a sweep: ``freqs_per_band`` frequencies spread over each band.

    The levels at each frequency come in a random order (fixed by ``seed``) so
    that a drift during the sweep (the handheld warming up, a chamber cycling)
    is not correlated with the level and cannot masquerade as a slope error.

    Parameters
    ----------
    bands : sequence of (name, lo_hz, hi_hz)
    levels_dbm : sequence of float
        Levels at the handheld's RF port.
    freqs_per_band : int
        1 gives the band centre; more spread from 10 % to 90 % of the band.
    seed : int or None
        Seed of the level order; None sweeps low to high.

    Returns
    -------
    list of SweepPoint
    """
    rng = None if seed is None else np.random.default_rng(seed)
    points = []
    for name, lo_hz, hi_hz in bands:
        if freqs_per_band == 1:
            fractions = [0.5]
        else:
            fractions = np.linspace(0.1, 0.9, freqs_per_band)
        for frac in fractions:
            # a 100 kHz raster keeps frequencies readable in files and on the generator
            freq_hz = round((lo_hz + frac * (hi_hz - lo_hz)) / 1e5) * 1e5
            order = list(levels_dbm) if rng is None else rng.permutation(np.asarray(levels_dbm))
            points.extend(SweepPoint(name, float(freq_hz), float(level)) for level in order)
    return points


class ResultsFile:
    """Append-only JSON Lines file of sweep results.

    Parameters
    ----------
    path : path-like
    header : dict
        Describes the setup (``kind``, device, instruments, cable loss...); every
        key must match an existing file's header for the file to be resumed.
        Point lines carry a ``key`` (list) naming the setting they measured.
    """

    def __init__(self, path, header):
        self.path = os.fspath(path)
        self.header = dict(header, format=FORMAT)
        self.points = []
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            self._load()
        else:
            with open(self.path, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(self.header) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _load(self):
        with open(self.path, "rb") as fh:
            data = fh.read()
        good = data[:data.rfind(b"\n") + 1]
        lines = good.decode("utf-8").splitlines()
        try:
            old = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            old = {}
        if old.get("format") != FORMAT:
            raise ResumeError(f"{self.path}:1: not a bench results file ({FORMAT}); "
                              "give another --results path")
        for key in self.header:
            if old.get(key) != self.header.get(key):
                raise ResumeError(
                    f"{self.path}:1: {key} is {old.get(key)!r} there but {self.header.get(key)!r} "
                    "now; resume with the same setup or give another --results path")
        self.header = old
        for n, line in enumerate(lines[1:], start=2):
            try:
                self.points.append(json.loads(line))
            except json.JSONDecodeError:
                raise ResumeError(f"{self.path}:{n}: damaged line; move the file away "
                                  "and start the sweep again") from None
        if len(good) != len(data):
            # drop the half-written tail so the next append starts on a clean line
            with open(self.path, "r+b") as fh:
                fh.truncate(len(good))

    def done_keys(self):
        """Keys (tuples) of the points already measured."""
        return {tuple(p["key"]) for p in self.points if p["kind"] == "point"}

    def append(self, *lines):
        """Append result dicts (``kind`` "point" or "temp") durably."""
        text = "".join(json.dumps(line) + "\n" for line in lines)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        self.points.extend(lines)

    def measured_points(self):
        """Point lines with ``temperature_c`` interpolated from the temp lines (None if none)."""
        temps = sorted((p["time_s"], p["temp_c"]) for p in self.points if p["kind"] == "temp")
        t_s, t_c = np.array(temps).T if temps else (None, None)
        out = []
        for p in self.points:
            if p["kind"] == "point":
                temperature = None if t_s is None else float(np.interp(p["time_s"], t_s, t_c))
                out.append(dict(p, temperature_c=temperature))
        return out


def measure_point(generator, handheld, point, *, cable_loss_db, n_readings, settle_s):
    """Set the generator for one point and average the handheld's readings there."""
    generator.set_level_dbm(point.input_dbm + cable_loss_db)
    after_s = time.time() + settle_s
    time.sleep(settle_s)
    recs = handheld.readings(n_readings, after_s=after_s, raw=True)
    r = reading_db(recs)
    return {
        "kind": "point", "key": list(point.key), "band": point.band,
        "freq_hz": point.freq_hz, "input_dbm": point.input_dbm,
        "generator_dbm": point.input_dbm + cable_loss_db,
        "reading_db": float(np.mean(r)), "reading_std_db": float(np.std(r)),
        "n": len(recs), "gain_db": recs[-1]["gain_db"],
        "time_s": float(np.mean([rec["rx_time_s"] for rec in recs])),
        "saturated": any(rec.get("saturated") for rec in recs),
    }


def run_sweep(generator, handheld, points, results, *, cable_loss_db, gain_db=None,
              n_readings=8, settle_s=0.05, progress=None, on_point=None):
    """Measure every point not yet in ``results``; the RF output is off on every exit.

    Parameters
    ----------
    generator : host.bench.generator.SignalGenerator
    handheld : host.bench.handheld.BenchHandheld
    points : list of SweepPoint
    results : ResultsFile
        Points already there are skipped (resume).
    cable_loss_db : float
        Loss between generator and handheld; the generator is set to input + loss.
    gain_db : int, optional
        Receive gain for BENCH mode (None: the firmware's hunt gain).
    n_readings : int
        MEAS frames averaged per point.
    settle_s : float
        Wait after each level change before readings count.
    progress : callable, optional
        ``progress(total, initial) -> bar`` with ``update()``/``close()`` (tqdm).
    on_point : callable, optional
        Called with each new result dict after it is on disk.

    Returns
    -------
    dict
        ``measured`` and ``skipped`` point counts.
    """
    done = results.done_keys()
    todo = [p for p in points if p.key not in done]
    bar = progress(len(points), len(points) - len(todo)) if progress else None
    measured = 0
    lowest_dbm = min(p.input_dbm for p in points) + cable_loss_db
    try:
        if not todo:
            return {"measured": 0, "skipped": len(points)}
        # the output comes on at the lowest level, never at whatever was left set
        generator.set_level_dbm(lowest_dbm)
        with generator.rf_on():
            current_freq = None
            for point in todo:
                if point.freq_hz != current_freq:
                    # level first: never switch frequency with a high level on the cable
                    generator.set_level_dbm(lowest_dbm)
                    generator.set_frequency_hz(point.freq_hz)
                    handheld.tune(point.freq_hz, gain_db)
                    current_freq = point.freq_hz
                result = measure_point(generator, handheld, point, cable_loss_db=cable_loss_db,
                                       n_readings=n_readings, settle_s=settle_s)
                temps = [{"kind": "temp", "time_s": t_s, "temp_c": t_c}
                         for t_s, t_c in handheld.temperatures()]
                results.append(result, *temps)
                measured += 1
                if bar is not None:
                    bar.update(1)
                if on_point is not None:
                    on_point(result)
    finally:
        if bar is not None:
            bar.close()
    return {"measured": measured, "skipped": len(points) - len(todo)}
