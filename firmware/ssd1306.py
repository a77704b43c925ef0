# SSD1306 128x64 OLED on I2C (Solomon Systech SSD1306 datasheet, section 9 command table).
from micropython import const
import framebuf

_SET_CONTRAST = const(0x81)
_DISPLAY_ALL_ON_RESUME = const(0xA4)
_NORMAL_DISPLAY = const(0xA6)
_DISPLAY_OFF = const(0xAE)
_DISPLAY_ON = const(0xAF)
_MEMORY_MODE = const(0x20)   # 0x00 = horizontal addressing
_COLUMN_ADDR = const(0x21)
_PAGE_ADDR = const(0x22)
_START_LINE = const(0x40)
_SEG_REMAP = const(0xA1)
_MUX_RATIO = const(0xA8)
_COM_SCAN_DEC = const(0xC8)
_DISPLAY_OFFSET = const(0xD3)
_COM_PINS = const(0xDA)
_CLOCK_DIV = const(0xD5)
_PRECHARGE = const(0xD9)
_VCOM_DESELECT = const(0xDB)
_CHARGE_PUMP = const(0x8D)

WIDTH = const(128)
HEIGHT = const(64)


class Ssd1306(framebuf.FrameBuffer):
    def __init__(self, i2c, addr=0x3C):
        self._i2c = i2c
        self._addr = addr
        # One control byte (0x40: data follows) ahead of the 1024-byte frame buffer.
        self._tx = bytearray(1 + WIDTH * HEIGHT // 8)
        self._tx[0] = 0x40
        self.buffer = memoryview(self._tx)[1:]
        super().__init__(self.buffer, WIDTH, HEIGHT, framebuf.MONO_VLSB)
        self._cmd = bytearray(2)

    def _command(self, c):
        self._cmd[0] = 0x00
        self._cmd[1] = c
        self._i2c.writeto(self._addr, self._cmd)

    def init(self):
        for c in (_DISPLAY_OFF, _MEMORY_MODE, 0x00, _START_LINE, _SEG_REMAP, _MUX_RATIO,
                  HEIGHT - 1, _COM_SCAN_DEC, _DISPLAY_OFFSET, 0x00, _COM_PINS, 0x12, _CLOCK_DIV,
                  0x80, _PRECHARGE, 0xF1, _VCOM_DESELECT, 0x30, _SET_CONTRAST, 0xCF,
                  _DISPLAY_ALL_ON_RESUME, _NORMAL_DISPLAY, _CHARGE_PUMP, 0x14, _DISPLAY_ON):
            self._command(c)
        self.fill(0)
        self.show()

    def show(self):
        for c in (_COLUMN_ADDR, 0, WIDTH - 1, _PAGE_ADDR, 0, HEIGHT // 8 - 1):
            self._command(c)
        self._i2c.writeto(self._addr, self._tx)
