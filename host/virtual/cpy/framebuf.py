# CPython stand-in for MicroPython's `framebuf` (runtime="cpython" only). Pixels are
# exact; text is drawn as one 7x7 block per non-space character, not the 8x8 font.
MONO_VLSB = 0


class FrameBuffer:
    def __init__(self, buffer, width, height, fmt):
        self._fb = buffer
        self._w = width
        self._h = height

    def pixel(self, x, y, c=None):
        if not (0 <= x < self._w and 0 <= y < self._h):
            return 0
        i = (y >> 3) * self._w + x
        if c is None:
            return (self._fb[i] >> (y & 7)) & 1
        if c:
            self._fb[i] |= 1 << (y & 7)
        else:
            self._fb[i] &= ~(1 << (y & 7)) & 0xFF

    def fill(self, c):
        v = 0xFF if c else 0
        for i in range(len(self._fb)):
            self._fb[i] = v

    def fill_rect(self, x, y, w, h, c):
        for yy in range(y, y + h):
            for xx in range(x, x + w):
                self.pixel(xx, yy, c)

    def rect(self, x, y, w, h, c):
        self.fill_rect(x, y, w, 1, c)
        self.fill_rect(x, y + h - 1, w, 1, c)
        self.fill_rect(x, y, 1, h, c)
        self.fill_rect(x + w - 1, y, 1, h, c)

    def hline(self, x, y, w, c):
        self.fill_rect(x, y, w, 1, c)

    def vline(self, x, y, h, c):
        self.fill_rect(x, y, 1, h, c)

    def text(self, s, x, y, c=1):
        for k, ch in enumerate(s):
            if ch != " ":
                self.fill_rect(x + 8 * k, y, 7, 7, c)
