# Tilt-compensated compass heading in integer arithmetic (no floats: the measurement loop
# calls it per dwell and must not allocate, and floats are heap objects on MCU ports).
#
# Frames: body = (forward, right, down); both sensor chips are mounted with chip X = forward,
# chip Y = left, chip Z = up, so body = (x, -y, -z). With d the down vector (minus the
# accelerometer's specific force) and m the magnetic field, both in body axes:
#     E = d x m  (east),   N = E x d  (north, |N| = |E| |d|),
#     heading = atan2(E . fwd / |E|, N . fwd / |N|) = atan2(E_x |d|, N_x).
# No trigonometry of pitch and roll is needed, so any tilt is compensated exactly.
# Integer ranges are kept under 2^30 so 32-bit ports never promote to long ints.
import array

# Q14 coefficients of atan(z), 0 <= z <= 1 (Abramowitz & Stegun 4.4.49, |error| <= 1e-5 rad)
_C1 = 16382
_C3 = -5412
_C5 = 2951
_C7 = -1395
_C9 = 341


def atan2_cdeg(y, x):
    """Angle of the vector (x, y) from the x axis towards y, in centi-degrees, 0..35999."""
    if x == 0 and y == 0:
        return 0
    ax = -x if x < 0 else x
    ay = -y if y < 0 else y
    while ax > 32767 or ay > 32767:
        ax >>= 1
        ay >>= 1
    if ax >= ay:
        z = (ay << 14) // ax
    else:
        z = (ax << 14) // ay
    z2 = (z * z) >> 14
    p = _C9
    p = _C7 + ((p * z2) >> 14)
    p = _C5 + ((p * z2) >> 14)
    p = _C3 + ((p * z2) >> 14)
    p = _C1 + ((p * z2) >> 14)
    rad_q14 = (p * z) >> 14
    a = (rad_q14 * 5730 + 8192) >> 14  # 18000 / pi / 16384 = 5729.58 / 16384
    if ax < ay:
        a = 9000 - a
    if x < 0:
        a = 18000 - a
    if y < 0:
        a = 36000 - a
    return a % 36000


def isqrt(n):
    """Integer square root (floor) by Newton's iteration."""
    if n <= 0:
        return 0
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


def tilt_heading_cdeg(mx, my, mz, ax, ay, az):
    """Heading of the forward axis, centi-degrees clockwise from magnetic north (0..35999),
    from calibrated magnetometer and raw accelerometer readings in chip axes. -1 when the
    field is parallel to gravity or a sensor reads zero."""
    # chip -> body (fwd, right, down); d = -accelerometer (in body), scaled to ~1024 per g.
    dx = -ax >> 4
    dy = ay >> 4
    dz = az >> 4
    bx = mx
    by = -my
    bz = -mz
    ex = dy * bz - dz * by
    ey = dz * bx - dx * bz
    ez = dx * by - dy * bx
    # Keep E under 2^14 so the second cross product stays under 2^30.
    while ex > 16383 or ex < -16383 or ey > 16383 or ey < -16383 or ez > 16383 or ez < -16383:
        ex >>= 1
        ey >>= 1
        ez >>= 1
    if ex == 0 and ey == 0 and ez == 0:
        return -1
    nx = ey * dz - ez * dy
    dn = isqrt(dx * dx + dy * dy + dz * dz)
    if dn == 0:
        return -1
    return atan2_cdeg(ex * dn, nx)


class Compass:
    """Magnetometer + accelerometer with hard- and soft-iron correction.

    ``hard_iron`` is the offset b (raw LSB), ``soft_iron_q12`` the 3x3 matrix S (row-major,
    4096 = 1.0): m_corrected = S (m_raw - b). With |m - b| < 2^15 and |S| < 2 each product
    stays under 2^28. ``declination_cdeg`` turns magnetic into true north.
    """

    def __init__(self, mag, accel, hard_iron=(0, 0, 0),
                 soft_iron_q12=(4096, 0, 0, 0, 4096, 0, 0, 0, 4096), declination_cdeg=0):
        self._mag = mag
        self._accel = accel
        self._m = array.array("i", [0, 0, 0])
        self._a = array.array("i", [0, 0, 0])
        self._mc = array.array("i", [0, 0, 0])
        self.set_calibration(hard_iron, soft_iron_q12, declination_cdeg)

    def set_calibration(self, hard_iron, soft_iron_q12, declination_cdeg):
        self._b = array.array("i", hard_iron)
        self._s = array.array("i", soft_iron_q12)
        self.declination_cdeg = declination_cdeg

    def heading_cdeg(self):
        """True heading in centi-degrees (0..35999), or -1 when it cannot be computed.
        Bus errors propagate as OSError for the caller to count."""
        self._mag.read_into(self._m)
        self._accel.read_into(self._a)
        m = self._m
        b = self._b
        s = self._s
        mc = self._mc
        for i in range(3):
            k = 3 * i
            mc[i] = (s[k] * (m[0] - b[0]) + s[k + 1] * (m[1] - b[1]) + s[k + 2] * (m[2] - b[2])) >> 12
        a = self._a
        h = tilt_heading_cdeg(mc[0], mc[1], mc[2], a[0], a[1], a[2])
        if h < 0:
            return -1
        return (h + self.declination_cdeg) % 36000
