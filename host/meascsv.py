"""The measurement CSV of docs/formats.md: strict reader, and the writer the exporter uses.

One measurement per row, columns in any order, unknown columns ignored.  The
reader checks every cell before returning anything: one malformed row rejects
the whole file with a `host.errors.UserError` naming the file, the line and
the column.

Quality flags: the ``flags`` cell holds flag names joined by ``|`` (empty = a good
reading); the reader returns them as one integer bit mask per row, bits
``FLAG_*`` below, so a locator can say ``flags & FLAGS_LEAVE_OUT``.
"""

import csv
import math

import numpy as np

from host.errors import UserError

#: Columns the reader understands, in the order the writer puts them.
COLUMNS = ("time_s", "target", "rssi_dbm", "x_m", "y_m", "lat_deg", "lon_deg", "alt_m", "floor",
           "heading_deg", "antenna", "flags")

# Quality flags of a reading (bits of the reader's ``flags`` array; names in the CSV).
#: The radio did not answer or lost lock during the dwell: ``rssi_dbm`` is no measurement.
FLAG_RADIO_FAULT = 0x01
#: GNSS lost: the position is the last fix, the reading was taken somewhere else.
FLAG_POSITION_STALE = 0x02
#: The input was above the calibrated compression knee: the true power is at least ``rssi_dbm``.
FLAG_SATURATED = 0x04
#: No calibration entry covers the frequency: ``rssi_dbm`` is the radio's raw, uncalibrated level.
FLAG_UNCALIBRATED = 0x08
#: Flag name in the CSV -> bit.
FLAGS = {"radio_fault": FLAG_RADIO_FAULT, "position_stale": FLAG_POSITION_STALE,
         "saturated": FLAG_SATURATED, "uncalibrated": FLAG_UNCALIBRATED}
#: Readings a locator leaves out altogether (no power, or no place).
FLAGS_LEAVE_OUT = FLAG_RADIO_FAULT | FLAG_POSITION_STALE
#: Separator of flag names in one cell.
FLAG_SEPARATOR = "|"


def flag_names(mask):
    """The CSV text of a flag bit mask: names in ``FLAGS`` order joined by ``|``, '' for 0."""
    mask = int(mask)
    unknown = mask & ~sum(FLAGS.values())
    if unknown:
        raise ValueError(f"unknown flag bits 0x{unknown:x}")
    return FLAG_SEPARATOR.join(name for name, bit in FLAGS.items() if mask & bit)


def parse_flags(text):
    """The bit mask of a ``flags`` cell (``ValueError`` for a name not in ``FLAGS``)."""
    mask = 0
    for name in text.split(FLAG_SEPARATOR):
        name = name.strip()
        if not name:
            continue
        if name not in FLAGS:
            raise ValueError(f"unknown flag {name!r}")
        mask |= FLAGS[name]
    return mask
REQUIRED = ("time_s", "target", "rssi_dbm")
POSITION_PAIRS = (("x_m", "y_m"), ("lat_deg", "lon_deg"))


def _number(text, lo=-math.inf, hi=math.inf):
    value = float(text)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError
    return value


def _integer(text):
    value = float(text)
    if not value.is_integer():
        raise ValueError
    return int(value)


# column -> (parser, allowed empty, what a good value looks like)
_CELLS = {
    "time_s": (_number, False, "a number of seconds"),
    "target": (str, False, "a non-empty target label"),
    "rssi_dbm": (lambda t: _number(t, -200.0, 50.0), True,
                 "a power in dBm between -200 and 50, or empty for 'not detected'"),
    "x_m": (_number, False, "a finite number of metres east"),
    "y_m": (_number, False, "a finite number of metres north"),
    "lat_deg": (lambda t: _number(t, -90.0, 90.0), False, "a latitude in degrees, -90..90"),
    "lon_deg": (lambda t: _number(t, -180.0, 180.0), False, "a longitude in degrees, -180..180"),
    "alt_m": (_number, True, "an altitude in metres, or empty"),
    "floor": (_integer, True, "a whole floor number (0 = street), or empty"),
    "heading_deg": (lambda t: _number(t, 0.0, 360.0), True,
                    "a heading in degrees 0..360 clockwise from true north, or empty for omni"),
    "antenna": (str, True, "an antenna pattern id"),
    "flags": (parse_flags, True, "flag names joined by '|' (" + ", ".join(FLAGS) + "), or empty"),
}
_EMPTY = {"rssi_dbm": math.nan, "alt_m": math.nan, "floor": math.nan, "heading_deg": math.nan,
          "antenna": "", "flags": 0}
_TEXT = ("target", "antenna")


def read_measurements(path):
    """Read and validate a measurement CSV.

    Returns
    -------
    dict of str -> ndarray
        One array per known column present in the header (``target`` and
        ``antenna`` as str arrays; the rest float, NaN where a cell may be and
        is empty: ``rssi_dbm`` NaN = not detected, ``floor`` NaN = unknown),
        plus ``line``: the file line of each row.

    Raises
    ------
    host.errors.UserError
        For a file that cannot be read or any malformed row.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return _parse(path, csv.reader(fh))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the measurement file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; export the measurements as a UTF-8 CSV") from None
    except csv.Error as exc:
        raise UserError(f"{path}: malformed CSV ({exc})") from None


def _parse(path, reader):
    header = next(reader, None)
    if not header:
        raise UserError(f"{path}:1: empty file; the first line must be the CSV header "
                        f"(time_s,target,rssi_dbm,x_m,y_m ...)")
    names = [h.strip() for h in header]
    for i, name in enumerate(names):
        if name and name in names[:i]:
            raise UserError(f"{path}:1: column '{name}' appears twice in the header")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise UserError(f"{path}:1: header lacks column '{missing[0]}' (see docs/formats.md)")
    for a, b in POSITION_PAIRS:
        if (a in names) != (b in names):
            have, lack = (a, b) if a in names else (b, a)
            raise UserError(f"{path}:1: column '{have}' without '{lack}'; give both or neither")
    if not any(all(c in names for c in p) for p in POSITION_PAIRS):
        raise UserError(f"{path}:1: header needs a position: columns x_m,y_m or lat_deg,lon_deg")
    index = {name: names.index(name) for name in COLUMNS if name in names}
    values = {name: [] for name in index}
    lines = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(names):
            raise UserError(f"{path}:{line}: {len(row)} fields where the header has {len(names)}; "
                            f"check for a stray or missing comma")
        for name, i in index.items():
            parse, may_be_empty, expect = _CELLS[name]
            text = row[i].strip()
            if not text:
                if not may_be_empty:
                    raise UserError(f"{path}:{line}: column {name} is empty; it needs {expect}")
                values[name].append(_EMPTY[name])
                continue
            try:
                values[name].append(parse(text))
            except ValueError:
                raise UserError(f"{path}:{line}: column {name}: '{text}' is not {expect}") from None
        lines.append(line)
    out = {name: np.array(v, dtype=str if name in _TEXT else int if name == "flags" else float)
           for name, v in values.items()}
    out["line"] = np.array(lines, dtype=int)
    if "flags" not in out:
        out["flags"] = np.zeros(len(lines), dtype=int)
    return out


def _format(value):
    # the common cases first: a million-row export spends its time here
    kind = type(value)
    if kind is float:
        return "" if value != value else repr(value)
    if value is None:
        return ""
    if kind is int or kind is str:
        return str(value)
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (bool, np.bool_)):
        raise ValueError("a measurement cell cannot be a bool")
    return str(value)


def write_measurements(path, rows, columns=None):
    """Write measurement dicts (keys = column names) as the CSV of docs/formats.md.

    Known columns come first in their documented order, then any others
    sorted; None and NaN become empty cells; floats are written exactly
    (shortest round-trip form); a ``flags`` value may be the bit mask or the
    text.  With ``columns`` given, ``rows`` may be any iterable (a generator
    is written as it comes, in bounded memory); returns the number of rows.
    """
    if columns is None:
        rows = list(rows)
        keys = set().union(*(r.keys() for r in rows)) if rows else set(REQUIRED + POSITION_PAIRS[0])
        columns = [c for c in COLUMNS if c in keys] + sorted(keys.difference(COLUMNS))
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        cells = [(c, _format_flags if c == "flags" else _format) for c in columns]
        for r in rows:
            writer.writerow([fmt(r.get(c)) for c, fmt in cells])
            n += 1
    return n


_FLAG_TEXT = {}


def _format_flags(value):
    if value is None or value == 0:
        return ""
    if isinstance(value, str):
        return value
    text = _FLAG_TEXT.get(value)
    if text is None:
        text = _FLAG_TEXT[value] = flag_names(value)
    return text
