# NMEA 0183 parsing for the GNSS receiver: pure functions, checksum first.
#
# Only GGA (fix, satellites, altitude) and RMC (validity, UTC date) are used. Positions come
# out as integers (degrees x 1e7, decimetres) so the measurement loop never touches floats.

# GNSS time may correct the clock forwards freely, backwards by at most this much: enough
# for an RTC that ran fast between fixes, far too little to revive an expired tasking with
# a spoofed or week-rollover date (docs/firmware.md, "Clock").
CLOCK_MAX_BACKSTEP_S = 300


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (integers only, any epoch port)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def unix_s(date, sec_of_day):
    """Unix seconds of an RMC (y, m, d) date and a second of that UTC day."""
    return days_from_civil(date[0], date[1], date[2]) * 86400 + sec_of_day


def clock_step_ok(gnss_s, clock_s, floor_s, max_back_s=CLOCK_MAX_BACKSTEP_S):
    """Whether a GNSS time may set the clock.

    Never further back than max_back_s before the later of the clock's own reading and
    floor_s (the last accepted tasking's issued_at, kept across reboots): whatever GNSS
    says, an expired tasking stays expired. Forward steps are always taken (a cold RTC
    starts in 2000); a spoofed future only makes taskings expire, which stops the hunt.
    """
    ref = clock_s if clock_s > floor_s else floor_s
    return gnss_s >= ref - max_back_s


def checksum_ok(line):
    """True when line is '$...*HH' and HH is the XOR of the bytes between '$' and '*'."""
    if isinstance(line, str):
        line = line.encode()
    line = line.strip()
    star = line.rfind(b"*")
    if len(line) < 4 or line[0] != 0x24 or star < 0 or len(line) - star != 3:
        return False
    c = 0
    for b in line[1:star]:
        c ^= b
    try:
        return c == int(line[star + 1:], 16)
    except ValueError:
        return False


def _coord_e7(value, hemi, deg_digits):
    # ddmm.mmmm -> degrees x 1e7, in integers: minutes x 1e7 / 60.
    if not value or hemi not in ("N", "S", "E", "W"):
        return None
    dot = value.find(".")
    if dot < 0:
        dot = len(value)
    if dot != deg_digits + 2:
        return None
    deg = int(value[:deg_digits])
    whole_min = int(value[deg_digits:dot])
    frac = value[dot + 1:] if dot < len(value) else ""
    frac7 = (frac + "0000000")[:7]
    minutes_e7 = whole_min * 10000000 + int(frac7)
    e7 = deg * 10000000 + (minutes_e7 + 30) // 60
    return -e7 if hemi in ("S", "W") else e7


def _hhmmss_ms(value):
    if len(value) < 6:
        return None
    ms = 0
    if len(value) > 7 and value[6] == ".":
        ms = int((value[7:] + "000")[:3])
    return ((int(value[0:2]) * 60 + int(value[2:4])) * 60 + int(value[4:6])) * 1000 + ms


def parse_nmea(line):
    """Parse one NMEA sentence. Return a dict, or None when malformed, failing its checksum,
    or of a type not used.

    GGA -> {'type': 'GGA', 'fix': bool, 'quality', 'sats', 'lat_e7', 'lon_e7', 'alt_dm',
            'utc_ms'}
    RMC -> {'type': 'RMC', 'fix': bool, 'lat_e7', 'lon_e7', 'utc_ms', 'date': (y, m, d)}
    Position fields are None without a fix.
    """
    if isinstance(line, (bytes, bytearray)):
        try:
            line = bytes(line).decode()
        except UnicodeError:
            return None
    line = line.strip()
    if not checksum_ok(line):
        return None
    fields = line[1:line.rfind("*")].split(",")
    kind = fields[0][-3:]
    try:
        if kind == "GGA" and len(fields) >= 10:
            quality = int(fields[6]) if fields[6] else 0
            fix = quality > 0
            lat = _coord_e7(fields[2], fields[3], 2) if fix else None
            lon = _coord_e7(fields[4], fields[5], 3) if fix else None
            if fix and (lat is None or lon is None):
                return None
            alt_dm = None
            if fix and fields[9]:
                alt_dm = _decimetres(fields[9])
            return {"type": "GGA", "fix": fix, "quality": quality,
                    "sats": int(fields[7]) if fields[7] else 0,
                    "lat_e7": lat, "lon_e7": lon, "alt_dm": alt_dm,
                    "utc_ms": _hhmmss_ms(fields[1])}
        if kind == "RMC" and len(fields) >= 10:
            fix = fields[2] == "A"
            lat = _coord_e7(fields[3], fields[4], 2) if fix else None
            lon = _coord_e7(fields[5], fields[6], 3) if fix else None
            if fix and (lat is None or lon is None):
                return None
            date = None
            d = fields[9]
            if len(d) == 6:
                yy = int(d[4:6])
                # Two-digit year: receivers of this century; 80..99 are last century's.
                date = ((1900 if yy >= 80 else 2000) + yy, int(d[2:4]), int(d[0:2]))
            return {"type": "RMC", "fix": fix, "lat_e7": lat, "lon_e7": lon,
                    "utc_ms": _hhmmss_ms(fields[1]), "date": date}
    except ValueError:
        return None
    return None


def _decimetres(value):
    neg = value.startswith("-")
    if neg:
        value = value[1:]
    dot = value.find(".")
    if dot < 0:
        dm = int(value) * 10
    else:
        dm = int(value[:dot] or "0") * 10 + int((value[dot + 1:] + "0")[:1])
    return -dm if neg else dm


class LineReader:
    """Assemble NMEA lines from a UART without blocking: bytes in, complete lines out."""

    def __init__(self, uart, size=128):
        self._uart = uart
        self._chunk = bytearray(64)
        self._line = bytearray(size)
        self._n = 0
        self.overflows = 0

    def poll(self, handle):
        """Read what the UART holds; call handle(bytes_line) for each complete line."""
        got = self._uart.readinto(self._chunk)
        if not got:
            return
        for i in range(got):
            b = self._chunk[i]
            if b == 0x24:  # '$' starts a sentence: resynchronise on it
                self._n = 0
            if b == 0x0A:
                if self._n:
                    handle(bytes(self._line[:self._n]))
                self._n = 0
            elif self._n < len(self._line):
                self._line[self._n] = b
                self._n += 1
            else:
                self.overflows += 1
                self._n = 0
