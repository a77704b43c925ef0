"""Officer UI: buzzer pitch law, power bar, display lines and button debouncing (MicroPython)."""

import json

from firmware import ui


def test_pitch_rises_linearly_in_db_above_the_squelch():
    # squelch -90 dBm -> 400 Hz, top -30 dBm -> 4000 Hz: 60 Hz per dB
    assert ui.pitch_hz(-9001, -9000, -3000) == 0
    assert ui.pitch_hz(-9000, -9000, -3000) == 400
    assert ui.pitch_hz(-6000, -9000, -3000) == 2200
    assert ui.pitch_hz(-3000, -9000, -3000) == 4000
    assert ui.pitch_hz(-1000, -9000, -3000) == 4000
    assert ui.power_bar(-11000) == 0 and ui.power_bar(-7000) == 50 and ui.power_bar(0) == 100


def test_display_lines():
    lines = ui.screen_lines("rack A port 17 (LTE B3)", -6543, True, 27050, 3, "GNSS 9 sat")
    assert lines == ("rack A port 17 (", "-65.4 dBm", "HDG 270 FL 3", "GNSS 9 sat")
    assert ui.screen_lines("x", 0, False, -1, 0, "GNSS stale")[1:3] == ("  --  dBm", "HDG --- FL 0")


def test_buttons_debounce_in_micropython(run_mpy):
    # A bouncing press (0/1 chatter) then a steady low: exactly one press, reported once the
    # level has been stable for 3 polls; a 2-poll glitch is ignored.
    trace = [1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1]
    got = run_mpy("""
import json, ui
class P:
    def __init__(self, seq):
        self.seq = seq
        self.i = 0
    def value(self):
        v = self.seq[min(self.i, len(self.seq) - 1)]
        self.i += 1
        return v
b = ui.Buttons({"mark": P(%s)})
print(json.dumps([b.poll() for _ in range(%d)]))
""" % (json.dumps(trace), len(trace)))
    assert got == [0, 0, 0, 0, 0, ui.MARK, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
