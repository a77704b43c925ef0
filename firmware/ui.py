# The officer's interface: buzzer pitch from the hunted target's power, the display, and
# debounced buttons. Housekeeping-rate code (10-50 Hz), outside the measurement dwell.

MARK = 1
NEXT = 2
FLOOR_UP = 4
FLOOR_DOWN = 8
_BITS = {"mark": MARK, "next": NEXT, "floor_up": FLOOR_UP, "floor_down": FLOOR_DOWN}


def pitch_hz(power_cdbm, squelch_cdbm, top_cdbm, lo_hz=400, hi_hz=4000):
    """Buzzer pitch for a calibrated power: silent (0) below the squelch, then rising
    linearly in dB from lo_hz at the squelch to hi_hz at top_cdbm and above."""
    if power_cdbm < squelch_cdbm:
        return 0
    if power_cdbm >= top_cdbm:
        return hi_hz
    return lo_hz + (hi_hz - lo_hz) * (power_cdbm - squelch_cdbm) // (top_cdbm - squelch_cdbm)


class Buttons:
    """Active-low buttons, debounced: a level counts once it reads the same `stable` polls
    in a row; a press is reported once, on the stable falling edge."""

    def __init__(self, pins, stable=3):
        self._pins = [(_BITS[name], pin) for name, pin in pins.items()]
        self._stable = stable
        self._count = {}
        self._state = 0
        for bit, _ in self._pins:
            self._count[bit] = 0

    def poll(self):
        """Return the bit mask of buttons newly pressed since the last poll."""
        pressed = 0
        for bit, pin in self._pins:
            down = pin.value() == 0
            was = bool(self._state & bit)
            if down != was:
                self._count[bit] += 1
                if self._count[bit] >= self._stable:
                    self._count[bit] = 0
                    if down:
                        self._state |= bit
                        pressed |= bit
                    else:
                        self._state &= ~bit
            else:
                self._count[bit] = 0
        return pressed


class Buzzer:
    def __init__(self, pwm, squelch_cdbm=-9000, top_cdbm=-3000):
        self._pwm = pwm
        self.squelch_cdbm = squelch_cdbm
        self.top_cdbm = top_cdbm
        self.hz = 0

    def sound(self, power_cdbm, detected):
        hz = pitch_hz(power_cdbm, self.squelch_cdbm, self.top_cdbm) if detected else 0
        if hz == self.hz:
            return
        self.hz = hz
        if hz:
            self._pwm.freq(hz)
            self._pwm.duty_u16(32768)
        else:
            self._pwm.duty_u16(0)


def power_bar(power_cdbm, lo_cdbm=-11000, hi_cdbm=-3000, width=100):
    """Pixels of the power bar: 0 at lo_cdbm, width at hi_cdbm."""
    if power_cdbm <= lo_cdbm:
        return 0
    if power_cdbm >= hi_cdbm:
        return width
    return width * (power_cdbm - lo_cdbm) // (hi_cdbm - lo_cdbm)


def screen_lines(label, power_cdbm, detected, heading_cdeg, floor, gnss_text):
    """The four text lines of the display (16 characters each at 8 px)."""
    power = "%5.1f dBm" % (power_cdbm / 100) if detected else "  --  dBm"
    head = "---" if heading_cdeg < 0 or heading_cdeg > 35999 else "%03d" % (heading_cdeg // 100)
    return (label[:16], power, "HDG %s FL %d" % (head, floor), gnss_text[:16])


class Display:
    def __init__(self, oled):
        self.oled = oled
        self.lines = ("", "", "", "")

    def show(self, label, power_cdbm, detected, heading_cdeg, floor, gnss_text):
        lines = screen_lines(label, power_cdbm, detected, heading_cdeg, floor, gnss_text)
        self.lines = lines
        o = self.oled
        o.fill(0)
        o.text(lines[0], 0, 0, 1)
        o.text(lines[1], 0, 12, 1)
        o.rect(0, 24, 102, 8, 1)
        o.fill_rect(1, 25, power_bar(power_cdbm if detected else -20000), 6, 1)
        o.text(lines[2], 0, 40, 1)
        o.text(lines[3], 0, 54, 1)
        o.show()
