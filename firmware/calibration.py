# Calibration of the receive chain: per band, from the RSSI read-back to dBm at the
# antenna port, with a temperature correction. Integer arithmetic (centi-dB) so the
# measurement loop can apply it without allocating.
#
#   reading_cdb = -(rssi_q * 25)                         (input-referred dB, x100)
#   power_cdbm  = offset_cdb + slope_e4 * reading_cdb / 10^4
#                 - temp_coef_mdb_per_c * (temp_cdeg - ref_temp_cdeg) / 1000
#
# The AD9363's RSSI is already referred to the chip input: UG-570 ('RSSI') says the
# algorithm subtracts the receive-path gain, so the reading does not depend on the gain
# the hunt uses and the gain is not subtracted again here. What the gain does move is
# where the ADC compresses: each entry records the gain (gain_db) and the die temperature
# (ref_temp_cdeg) it was calibrated at, and the compression threshold follows the gain.
#
# The entries travel as SET_CALIBRATION messages (firmware/protocol.py) and are stored on
# the device as JSON (hardware/calibration/default.json has the same fields).
import array

MAX_ENTRIES = 16
DEFAULT_GAIN_DB = 40   # the hunt's default gain (measure.Hunter), for tables without gain_db
FIELDS = ("band_lo_mhz", "band_hi_mhz", "offset_cdb", "slope_e4", "temp_coef_mdb_per_c",
          "ref_temp_cdeg", "floor_cdbm", "knee_cdbm", "gain_db")

# The calibration bands' edges (MHz, lo <= f < hi), the same ranges as
# dsp.bands.CALIBRATION_BANDS (tests/firmware/test_calibration_bands.py holds them equal):
# the bench calibrates per band and writes one entry per band with these edges, and
# hardware/calibration/default.json has one entry each. The gaps hold no uplink band.
# The AD9363 tunes 325-3800 MHz (data sheet): of the 3300-4200 band it reaches the part
# below 3800 MHz, and the 4400-5000 band (n79) only through a second front end
# (hardware/README.md); the radio driver refuses what it cannot tune.
BAND_EDGES_MHZ = ((698, 806), (806, 880), (880, 960), (1700, 1880), (1880, 2025),
                  (2300, 2400), (2496, 2690), (3300, 4200), (4400, 5000))

# The nominal table (hardware/calibration/default.json) until a lab calibration arrives.
DEFAULT_CALIBRATION = {"calibration_id": 1, "entries": [
    dict(zip(FIELDS, (lo, hi, 1000, 10000, 0, 2500, -10000, -3500, 40)))
    for lo, hi in BAND_EDGES_MHZ]}

# Where the compressed response reaches 1 dB compression, in calibrated (straight-line)
# power below the band's knee, per unit slope: 6.87 dB.
# The bench's response model (host/bench/response.py) compresses the input-referred
# reading r with a Rapp limiter of smoothness s = 1 (the AD9363's soft limiter), at the
# gain the band was calibrated at (a gain g dB higher moves the knee g dB lower):
#   r = r_l - 10 log10(1 + 10^((r_l - r_k)/10)),   r_k = (knee - offset) / slope.
# 1 dB compression, r = r_l - 1, is at r_l - r_k = 10 log10(10^0.1 - 1) = -5.868 dB (the
# input p1dB is 5.87 dB x slope below the knee), where the reading is 1 dB lower still:
# r - r_k = -6.868 dB. The firmware reports offset + slope * r, so an input at or above
# p1dB reads at or above knee - slope * 6.868 dB, and the reading stays below the knee
# however strong the input: a flag at the knee itself would never fire.
P1DB_BELOW_KNEE_CDB = 687


def reading_cdb(rssi_q_sum, n_reads):
    """Mean input-referred level in centi-dB from a sum of RSSI readings (0.25 dB steps).

    The RSSI is gain-compensated by the chip (UG-570), so no gain enters here.

    The mean is rounded to the nearest centi-dB, ties to even, so that the rounding adds
    no bias on average (half up would read 1/(2 n_reads) of a centi-dB high). Integer
    arithmetic only: the measurement loop calls it under heap_lock().
    """
    x = rssi_q_sum * 25
    q = x // n_reads
    twice_rem = 2 * (x - q * n_reads)
    if twice_rem > n_reads or (twice_rem == n_reads and q & 1):
        q += 1
    return -q


class Calibration:
    def __init__(self):
        self.calibration_id = 0
        self.n = 0
        self._cols = [array.array("i", [0] * MAX_ENTRIES) for _ in FIELDS]
        (self.lo_mhz, self.hi_mhz, self.offset_cdb, self.slope_e4, self.tc_mdb,
         self.ref_cdeg, self.floor_cdbm, self.knee_cdbm, self.gain_db) = self._cols
        # F_SATURATED threshold per entry: calibrated power at 1 dB compression at the
        # entry's gain (sat_cdbm_at moves it to another gain)
        self.sat_cdbm = array.array("i", [0] * MAX_ENTRIES)
        self._staged = None

    def load(self, doc):
        """Replace the table from a dict {'calibration_id': int, 'entries': [{FIELDS...}]}.

        An entry without gain_db (a table written before entries recorded it) is taken
        as made at DEFAULT_GAIN_DB, the gain the nominal table assumes."""
        entries = doc["entries"]
        if not 1 <= len(entries) <= MAX_ENTRIES:
            raise ValueError("calibration needs 1..%d entries" % MAX_ENTRIES)
        rows = []
        for e in entries:
            row = tuple(int(e.get(f, DEFAULT_GAIN_DB) if f == "gain_db" else e[f])
                        for f in FIELDS)
            if row[0] >= row[1] or row[3] <= 0 or not -10 <= row[8] <= 77:
                raise ValueError("calibration entry %r: band, slope or gain invalid" % (e,))
            rows.append(row)
        self._set(int(doc["calibration_id"]), rows)

    def _set(self, cal_id, rows):
        for i, row in enumerate(rows):
            for c, v in zip(self._cols, row):
                c[i] = v
            self.sat_cdbm[i] = self.knee_cdbm[i] - (self.slope_e4[i] * P1DB_BELOW_KNEE_CDB) // 10000
        self.n = len(rows)
        self.calibration_id = cal_id

    def to_doc(self):
        return {"calibration_id": self.calibration_id,
                "entries": [dict(zip(FIELDS, [c[i] for c in self._cols])) for i in range(self.n)]}

    def stage(self, cal_id, index, count, row):
        """Collect SET_CALIBRATION entries; the table changes when the last one arrives.
        Returns True when committed. Raises ValueError on an inconsistent entry."""
        if not 1 <= count <= MAX_ENTRIES or not 0 <= index < count:
            raise ValueError("entry %d of %d" % (index, count))
        if row[0] >= row[1] or row[3] <= 0 or not -10 <= row[8] <= 77:
            raise ValueError("band, slope or gain invalid")
        if index == 0 or self._staged is None or self._staged[0] != cal_id:
            self._staged = (cal_id, count, {})
        if self._staged[1] != count:
            raise ValueError("entry count changed mid-table")
        self._staged[2][index] = tuple(row)
        if len(self._staged[2]) == count:
            rows = [self._staged[2][i] for i in range(count)]
            self._staged = None
            self._set(cal_id, rows)
            return True
        return False

    def band_index(self, freq_hz):
        """Index of the first entry whose band covers freq_hz, or -1."""
        mhz = freq_hz // 1000000
        for i in range(self.n):
            if self.lo_mhz[i] <= mhz < self.hi_mhz[i]:
                return i
        return -1

    def sat_cdbm_at(self, i, gain_db):
        """Entry i's 1 dB compression power (centi-dBm) when hunting at gain_db: the ADC
        sits gain_db - gain of calibration higher, so compression comes that much sooner
        (in input dB; times the slope in calibrated power)."""
        return self.sat_cdbm[i] - (self.slope_e4[i] * (gain_db - self.gain_db[i])) // 100

    def power_cdbm(self, i, reading, temp_cdeg):
        """Calibrated power (centi-dBm) from an input-referred reading (centi-dB)."""
        return (self.offset_cdb[i] + (self.slope_e4[i] * reading) // 10000
                - (self.tc_mdb[i] * (temp_cdeg - self.ref_cdeg[i])) // 1000)
