# Calibration of the receive chain: per band, from the RSSI read-back to dBm at the
# antenna port, with a temperature correction. Integer arithmetic (centi-dB) so the
# measurement loop can apply it without allocating.
#
#   reading_cdb = -(rssi_q * 25) - gain_db * 100          (input-referred dBFS, x100)
#   power_cdbm  = offset_cdb + slope_e4 * reading_cdb / 10^4
#                 - temp_coef_mdb_per_c * (temp_cdeg - ref_temp_cdeg) / 1000
#
# The entries travel as SET_CALIBRATION messages (firmware/protocol.py) and are stored on
# the device as JSON (hardware/calibration/default.json has the same fields).
import array

MAX_ENTRIES = 16
FIELDS = ("band_lo_mhz", "band_hi_mhz", "offset_cdb", "slope_e4", "temp_coef_mdb_per_c",
          "ref_temp_cdeg", "floor_cdbm", "knee_cdbm")


def reading_cdb(rssi_q_sum, n_reads, gain_db):
    """Mean input-referred level in centi-dB from a sum of RSSI readings (0.25 dB steps)."""
    return -((rssi_q_sum * 25) // n_reads) - gain_db * 100


class Calibration:
    def __init__(self):
        self.calibration_id = 0
        self.n = 0
        self._cols = [array.array("i", [0] * MAX_ENTRIES) for _ in FIELDS]
        (self.lo_mhz, self.hi_mhz, self.offset_cdb, self.slope_e4, self.tc_mdb,
         self.ref_cdeg, self.floor_cdbm, self.knee_cdbm) = self._cols
        self._staged = None

    def load(self, doc):
        """Replace the table from a dict {'calibration_id': int, 'entries': [{FIELDS...}]}."""
        entries = doc["entries"]
        if not 1 <= len(entries) <= MAX_ENTRIES:
            raise ValueError("calibration needs 1..%d entries" % MAX_ENTRIES)
        rows = []
        for e in entries:
            row = tuple(int(e[f]) for f in FIELDS)
            if row[0] >= row[1] or row[3] <= 0:
                raise ValueError("calibration entry %r: band or slope invalid" % (e,))
            rows.append(row)
        self._set(int(doc["calibration_id"]), rows)

    def _set(self, cal_id, rows):
        for i, row in enumerate(rows):
            for c, v in zip(self._cols, row):
                c[i] = v
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
        if row[0] >= row[1] or row[3] <= 0:
            raise ValueError("band or slope invalid")
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

    def power_cdbm(self, i, reading, temp_cdeg):
        """Calibrated power (centi-dBm) from an input-referred reading (centi-dB)."""
        return (self.offset_cdb[i] + (self.slope_e4[i] * reading) // 10000
                - (self.tc_mdb[i] * (temp_cdeg - self.ref_cdeg[i])) // 1000)
