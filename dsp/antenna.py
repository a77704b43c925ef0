"""Antenna azimuth patterns from ``hardware/antennas/<id>.csv``.

A pattern file has the header ``freq_hz,angle_deg,gain_dbi``; angles are
clockwise from boresight.  :func:`load_pattern` reads one by id or path and
returns an :class:`AntennaPattern` that interpolates gain circularly in angle
and linearly (in dB) in frequency.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANTENNA_DIR = Path(__file__).resolve().parent.parent / "hardware" / "antennas"
DEFAULT_ANTENNA = "lpda-700-2700"
_COLUMNS = ("freq_hz", "angle_deg", "gain_dbi")
_MIN_ANGLES = 8


@dataclass(frozen=True, eq=False)
class AntennaPattern:
    """Azimuth gain table of one antenna.

    Attributes
    ----------
    antenna_id : str
        File stem (e.g. ``"lpda-700-2700"``).
    freq_hz : ndarray, shape (n_freq,)
        Ascending frequencies of the table rows.
    angle_deg : ndarray, shape (n_angle,)
        Ascending angles in [0, 360), clockwise from boresight.
    gain_dbi : ndarray, shape (n_freq, n_angle)
    """

    antenna_id: str
    freq_hz: np.ndarray
    angle_deg: np.ndarray
    gain_dbi: np.ndarray

    def at(self, freq_hz):
        """The pattern at one frequency (linear interpolation in dB).

        Raises
        ------
        ValueError
            Frequency outside the table.
        """
        freq = float(freq_hz)
        lo, hi = self.freq_hz[0], self.freq_hz[-1]
        if not lo - 1.0 <= freq <= hi + 1.0:
            raise ValueError(
                f"antenna {self.antenna_id!r} has pattern data for "
                f"{lo / 1e6:g}-{hi / 1e6:g} MHz, not {freq / 1e6:g} MHz")
        if len(self.freq_hz) == 1:
            row = self.gain_dbi[0]
        else:
            i = int(np.clip(np.searchsorted(self.freq_hz, freq) - 1, 0, len(self.freq_hz) - 2))
            t = (freq - self.freq_hz[i]) / (self.freq_hz[i + 1] - self.freq_hz[i])
            t = min(max(t, 0.0), 1.0)
            row = (1.0 - t) * self.gain_dbi[i] + t * self.gain_dbi[i + 1]
        return AntennaPattern(self.antenna_id, np.array([freq]), self.angle_deg, row[None, :])

    def gain(self, angle_deg, freq_hz=None):
        """Gain in dBi toward angles clockwise from boresight.

        Parameters
        ----------
        angle_deg : array_like
            Any real angles; wrapped modulo 360.
        freq_hz : float, optional
            Needed when the pattern holds several frequencies.

        Returns
        -------
        ndarray
            Same shape as ``angle_deg``.
        """
        if freq_hz is not None:
            row = self.at(freq_hz).gain_dbi[0]
        elif len(self.freq_hz) == 1:
            row = self.gain_dbi[0]
        else:
            raise ValueError(
                f"antenna {self.antenna_id!r} has patterns for {len(self.freq_hz)} "
                "frequencies: pass freq_hz (or load_pattern(..., freq_hz=...))")
        angle = np.mod(np.asarray(angle_deg, dtype=float), 360.0)
        return np.interp(angle, self.angle_deg, row, period=360.0)

    @property
    def peak_gain_dbi(self):
        """Maximum gain of each frequency row, shape (n_freq,)."""
        return self.gain_dbi.max(axis=1)


def available_antennas(directory=None):
    """Ids of the pattern files in ``directory`` (default ``hardware/antennas``)."""
    directory = Path(directory) if directory is not None else ANTENNA_DIR
    return sorted(p.stem for p in directory.glob("*.csv"))


def _resolve(id_or_path):
    text = str(id_or_path)
    path = Path(text)
    if path.suffix.lower() == ".csv" or path.parent != Path("."):
        if not path.is_file():
            raise ValueError(f"antenna pattern file {text} not found")
        return path
    candidate = ANTENNA_DIR / f"{text}.csv"
    if not candidate.is_file():
        raise ValueError(
            f"unknown antenna {text!r}: available {', '.join(available_antennas()) or 'none'} "
            f"(in {ANTENNA_DIR}), or give a path to a freq_hz,angle_deg,gain_dbi CSV")
    return candidate


def _read_rows(path):
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in _COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"{path}:1: missing column(s) {', '.join(missing)}; "
                f"expected header {','.join(_COLUMNS)}")
        index = [header.index(c) for c in _COLUMNS]
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            try:
                values = [float(row[i]) for i in index]
            except (IndexError, ValueError):
                raise ValueError(
                    f"{path}:{line_no}: expected three numbers freq_hz,angle_deg,gain_dbi, "
                    f"got {','.join(row)!r}") from None
            if not all(np.isfinite(values)):
                raise ValueError(f"{path}:{line_no}: non-finite value in {','.join(row)!r}")
            rows.append(values)
    if not rows:
        raise ValueError(f"{path}: no pattern rows")
    return np.array(rows)


def load_pattern(id_or_path=DEFAULT_ANTENNA, freq_hz=None):
    """Load an antenna pattern by id (``hardware/antennas/<id>.csv``) or path.

    Parameters
    ----------
    id_or_path : str or path-like
        Pattern id such as ``"lpda-700-2700"`` or ``"omni"``, or a CSV path.
    freq_hz : float, optional
        Return the pattern interpolated at this frequency (one row).

    Returns
    -------
    AntennaPattern

    Raises
    ------
    ValueError
        Unknown id (listing the available ids), malformed file (with line
        number), or a frequency outside the file's range.

    Examples
    --------
    >>> p = load_pattern("lpda-700-2700", freq_hz=1747.5e6)
    >>> round(float(p.gain(0.0)), 1) > round(float(p.gain(180.0)), 1)
    True
    """
    path = _resolve(id_or_path)
    rows = _read_rows(path)
    freqs = np.unique(rows[:, 0])
    angles = np.unique(np.mod(rows[:, 1], 360.0))
    if len(angles) < _MIN_ANGLES:
        raise ValueError(f"{path}: needs at least {_MIN_ANGLES} distinct angles, has {len(angles)}")
    gain = np.full((len(freqs), len(angles)), np.nan)
    fi = np.searchsorted(freqs, rows[:, 0])
    ai = np.searchsorted(angles, np.mod(rows[:, 1], 360.0))
    gain[fi, ai] = rows[:, 2]
    holes = np.argwhere(np.isnan(gain))
    if len(holes):
        f, a = holes[0]
        raise ValueError(
            f"{path}: frequency {freqs[f]:g} Hz lacks angle {angles[a]:g} deg; "
            "every frequency needs the same angles")
    pattern = AntennaPattern(path.stem, freqs, angles, gain)
    return pattern.at(freq_hz) if freq_hz is not None else pattern
