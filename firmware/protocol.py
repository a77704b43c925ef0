# rfhound wire protocol between the handheld and the host.
#
# One implementation for both runtimes: this file runs unchanged in MicroPython on the
# handheld and in CPython on the host, so it sticks to the common subset (struct,
# binascii.crc32, bytearray, memoryview) and imports nothing else of the project.
#
# A frame on the wire is COBS(header + payload + crc32) followed by one 0x00 delimiter.
#   header  = <BBHI  version, msg_type, seq (u16, wraps), time_ms (u32 device clock)
#   payload = the message's fixed little-endian struct (variable tail for LOG and TASKING)
#   crc32   = <I     binascii.crc32 over header + payload
# docs/protocol.md describes every message with a byte-level example.
import struct
import binascii

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

VERSION = const(1)

HEADER_FMT = "<BBHI"
HEADER_SIZE = const(8)
PAYLOAD_OFFSET = const(8)
CRC_SIZE = const(4)
MAX_PAYLOAD = const(240)
# Largest unencoded frame and its COBS form (one overhead byte per 254, plus the delimiter).
MAX_RAW = const(252)
MAX_FRAME = const(256)

# Device -> host
HELLO = const(0x01)
STATUS = const(0x02)
MEAS = const(0x03)
MARK = const(0x04)
LOG = const(0x05)
ACK = const(0x06)
NAK = const(0x07)
# Host -> device
TASKING = const(0x40)
SET_CALIBRATION = const(0x41)
START = const(0x42)
STOP = const(0x43)
SET_MODE = const(0x44)
PING = const(0x45)

# MEAS.flags
F_NOT_DETECTED = const(0x01)   # measured, but below the calibrated noise floor
F_POSITION_STALE = const(0x02)  # GNSS lost: position is the last fix
F_NO_HEADING = const(0x04)      # heading unavailable (IMU fault or not calibrated)
F_RADIO_FAULT = const(0x08)     # the radio did not answer or lost lock during this dwell
F_SATURATED = const(0x10)       # input above the calibrated compression knee
F_BENCH = const(0x20)           # a BENCH-mode reading at a fixed frequency, not a target
F_UNCALIBRATED = const(0x40)    # no calibration entry covers the frequency: rssi_cdbm is raw

# STATUS.fault_flags
FAULT_RADIO = const(0x0001)
FAULT_RADIO_RESET = const(0x0002)
FAULT_GNSS = const(0x0004)
FAULT_IMU = const(0x0008)
FAULT_BARO = const(0x0010)
FAULT_USB_OVERFLOW = const(0x0020)
FAULT_WATCHDOG_RESET = const(0x0040)
FAULT_NO_TASKING = const(0x0080)
FAULT_TASKING_EXPIRED = const(0x0100)  # the tasking in force reached not_after: hunt stopped
FAULT_CLOCK_REFUSED = const(0x0200)    # GNSS time would move the clock back past the bound

# HELLO.capabilities
CAP_GNSS = const(0x0001)
CAP_IMU = const(0x0002)
CAP_BARO = const(0x0004)
CAP_BENCH = const(0x0008)
CAP_DIRECTIONAL = const(0x0010)
CAP_DISPLAY = const(0x0020)
CAP_BUZZER = const(0x0040)

# SET_MODE.mode and STATUS.mode
MODE_IDLE = const(0)
MODE_HUNT = const(1)
MODE_BENCH = const(2)

# NAK.reason
NAK_BAD_FRAME = const(1)
NAK_UNKNOWN_TYPE = const(2)
NAK_BAD_LENGTH = const(3)
NAK_BAD_SIGNATURE = const(4)
NAK_EXPIRED = const(5)
NAK_NOT_YET_VALID = const(6)
NAK_REPLAYED = const(7)
NAK_BAD_TASKING = const(8)
NAK_NO_TASKING = const(9)
NAK_BAD_CALIBRATION = const(10)
NAK_BAD_MODE = const(11)
NAK_BUSY = const(12)

NAK_REASONS = {
    NAK_BAD_FRAME: "bad frame",
    NAK_UNKNOWN_TYPE: "unknown message type",
    NAK_BAD_LENGTH: "wrong payload length",
    NAK_BAD_SIGNATURE: "tasking signature does not verify",
    NAK_EXPIRED: "tasking has expired",
    NAK_NOT_YET_VALID: "tasking is not yet valid",
    NAK_REPLAYED: "tasking is older than the one in force (replay)",
    NAK_BAD_TASKING: "tasking is malformed",
    NAK_NO_TASKING: "no tasking in force",
    NAK_BAD_CALIBRATION: "calibration entry is malformed",
    NAK_BAD_MODE: "unknown mode",
    NAK_BUSY: "busy",
}

# Sentinels for 'no value' in fixed-width fields.
HEADING_NONE = const(0xFFFF)
GAIN_AUTO = const(-128)

# msg_type: (name, struct format of the fixed payload, field names, variable tail?)
# Field names carry their units: _cdbm centi-dBm, _cdeg centi-degrees, _e7 degrees x 1e7,
# _dm decimetres, _mv millivolts, _ms milliseconds, _khz, _mhz, _cdb centi-dB.
MESSAGES = {
    HELLO: ("HELLO", "<BBBBIIHB", (
        "fw_major", "fw_minor", "fw_patch", "hw_rev", "device_id", "calibration_id",
        "capabilities", "max_targets"), False),
    STATUS: ("STATUS", "<HBhBBBBHHBbBB", (
        "battery_mv", "battery_pct", "temp_cdeg", "gnss_fix", "gnss_sats", "radio_lock",
        "mode", "fault_flags", "dropped_frames", "active_target", "floor", "n_targets",
        "radio_resets"), False),
    MEAS: ("MEAS", "<BBhHbHiiibH", (
        "target", "flags", "rssi_cdbm", "raw_rssi", "gain_db", "heading_cdeg",
        "lat_e7", "lon_e7", "alt_dm", "floor", "dwell_ms"), False),
    MARK: ("MARK", "<HiiibH", (
        "mark_id", "lat_e7", "lon_e7", "alt_dm", "floor", "heading_cdeg"), False),
    LOG: ("LOG", "<B", ("level",), True),
    ACK: ("ACK", "<BH", ("acked_type", "acked_seq"), False),
    NAK: ("NAK", "<BHB", ("nacked_type", "nacked_seq", "reason"), False),
    TASKING: ("TASKING", "<BB", ("chunk_index", "chunk_count"), True),
    SET_CALIBRATION: ("SET_CALIBRATION", "<IBBHHhhhhhhb", (
        "calibration_id", "entry_index", "entry_count", "band_lo_mhz", "band_hi_mhz",
        "offset_cdb", "slope_e4", "temp_coef_mdb_per_c", "ref_temp_cdeg", "floor_cdbm",
        "knee_cdbm", "gain_db"), False),
    START: ("START", "<", (), False),
    STOP: ("STOP", "<", (), False),
    SET_MODE: ("SET_MODE", "<BIbB", ("mode", "freq_khz", "gain_db", "target"), False),
    PING: ("PING", "<I", ("nonce",), False),
}

TYPE_BY_NAME = {}
for _t in MESSAGES:
    TYPE_BY_NAME[MESSAGES[_t][0]] = _t

LOG_DEBUG = const(0)
LOG_INFO = const(1)
LOG_WARN = const(2)
LOG_ERROR = const(3)

# Payload sizes of the fixed part, computed once.
PAYLOAD_SIZE = {}
for _t in MESSAGES:
    PAYLOAD_SIZE[_t] = struct.calcsize(MESSAGES[_t][1])


def cobs_encode_into(src, n, dst):
    """COBS-encode src[:n] into dst and append the 0x00 delimiter; return the byte count.

    dst must hold n + n // 254 + 2 bytes. Allocates nothing.
    """
    code_pos = 0
    out = 1
    code = 1
    i = 0
    while i < n:
        b = src[i]
        if b == 0:
            dst[code_pos] = code
            code_pos = out
            out += 1
            code = 1
        else:
            dst[out] = b
            out += 1
            code += 1
            if code == 0xFF and i + 1 < n:
                dst[code_pos] = code
                code_pos = out
                out += 1
                code = 1
        i += 1
    dst[code_pos] = code
    dst[out] = 0
    return out + 1


def cobs_decode(data):
    """Decode one COBS block (without its delimiter). Return bytes, or None if malformed."""
    n = len(data)
    out = bytearray(n)
    src = memoryview(data)
    i = 0
    o = 0
    while i < n:
        code = data[i]
        if code == 0:
            return None
        end = i + code
        if end > n:
            return None
        block = end - i - 1
        out[o:o + block] = src[i + 1:end]
        o += block
        i = end
        if code != 0xFF and i < n:
            out[o] = 0
            o += 1
    return bytes(out[:o])


class Frame:
    """A decoded, CRC-checked frame."""

    def __init__(self, msg_type, seq, time_ms, payload, version=VERSION):
        self.msg_type = msg_type
        self.seq = seq
        self.time_ms = time_ms
        self.payload = payload
        self.version = version

    def name(self):
        spec = MESSAGES.get(self.msg_type)
        return spec[0] if spec else "0x%02X" % self.msg_type

    def fields(self):
        """The payload's fixed fields as a tuple (tail excluded)."""
        return unpack(self.msg_type, self.payload)

    def tail(self):
        """The variable-length tail (LOG text, TASKING chunk bytes), else b''."""
        return self.payload[PAYLOAD_SIZE[self.msg_type]:]


# Reasons parse_frame() gives for a rejected frame.
ERR_COBS = "cobs"
ERR_SHORT = "short"
ERR_CRC = "crc"
ERR_VERSION = "version"
ERR_TYPE = "type"
ERR_LENGTH = "length"


def parse_frame(raw):
    """Check a decoded (un-COBSed) frame. Return (Frame, None) or (None, reason)."""
    n = len(raw)
    if n < HEADER_SIZE + CRC_SIZE:
        return None, ERR_SHORT
    body = memoryview(raw)[:n - CRC_SIZE]
    crc = struct.unpack_from("<I", raw, n - CRC_SIZE)[0]
    if binascii.crc32(body) & 0xFFFFFFFF != crc:
        return None, ERR_CRC
    version, msg_type, seq, time_ms = struct.unpack_from(HEADER_FMT, raw, 0)
    if version != VERSION:
        return None, ERR_VERSION
    spec = MESSAGES.get(msg_type)
    if spec is None:
        return None, ERR_TYPE
    plen = n - CRC_SIZE - HEADER_SIZE
    fixed = PAYLOAD_SIZE[msg_type]
    if plen < fixed or (plen != fixed and not spec[3]):
        return None, ERR_LENGTH
    return Frame(msg_type, seq, time_ms, bytes(raw[HEADER_SIZE:n - CRC_SIZE]), version), None


def unpack(msg_type, payload):
    """Unpack the fixed fields of a payload into a tuple."""
    return struct.unpack_from(MESSAGES[msg_type][1], payload, 0)


class Encoder:
    """Allocation-free frame encoder.

    The caller packs a payload into ``raw`` at PAYLOAD_OFFSET (``struct.pack_into``), then
    ``finish`` writes header and CRC and leaves the COBS frame in ``out[:n]``.
    """

    def __init__(self):
        self.raw = bytearray(MAX_RAW)
        self.out = bytearray(MAX_FRAME)
        self._raw_mv = memoryview(self.raw)
        # Slicing a memoryview allocates, so each fixed message size gets its view once, the
        # first time it is sent; a loop sending the same messages then allocates nothing.
        self._bodies = {}

    def finish(self, msg_type, seq, time_ms, payload_len):
        struct.pack_into(HEADER_FMT, self.raw, 0, VERSION, msg_type, seq & 0xFFFF,
                         time_ms & 0xFFFFFFFF)
        body_len = HEADER_SIZE + payload_len
        body = self._bodies.get(body_len)
        if body is None:
            body = self._raw_mv[:body_len]
            # Only fixed-size messages keep their view: one kept per LOG or TASKING length
            # would scatter up to 240 small objects over the heap and leave it in pieces.
            if not MESSAGES[msg_type][3]:
                self._bodies[body_len] = body
        # On 32-bit ports a CRC >= 2**30 is a heap integer: the one allocation per frame
        # that the 64-bit unix port cannot show (docs/firmware.md).
        crc = binascii.crc32(body) & 0xFFFFFFFF
        struct.pack_into("<I", self.raw, body_len, crc)
        return cobs_encode_into(self.raw, body_len + CRC_SIZE, self.out)


def encode(msg_type, seq, time_ms, fields=(), tail=b""):
    """Encode one message to a complete wire frame (bytes, delimiter included)."""
    spec = MESSAGES[msg_type]
    payload = struct.pack(spec[1], *fields) + bytes(tail)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("payload of %d bytes exceeds %d" % (len(payload), MAX_PAYLOAD))
    body = struct.pack(HEADER_FMT, VERSION, msg_type, seq & 0xFFFF, time_ms & 0xFFFFFFFF) + payload
    raw = body + struct.pack("<I", binascii.crc32(body) & 0xFFFFFFFF)
    out = bytearray(len(raw) + len(raw) // 254 + 2)
    n = cobs_encode_into(raw, len(raw), out)
    return bytes(out[:n])


class Deframer:
    """Streaming decoder: feed bytes, get CRC-checked Frames.

    Never raises on bad input: a malformed frame is counted and dropped, and decoding
    resumes at the next 0x00 delimiter. Its memory is bounded: one buffer of max_frame
    bytes, made once; longer runs without a delimiter are counted as overflows and
    skipped, and a MemoryError while decoding (a full heap) drops that frame, is counted
    in memory_errors, and never reaches the caller.
    """

    def __init__(self, max_frame=MAX_FRAME):
        self.max_frame = max_frame
        self._buf = bytearray(max_frame)
        self._mv = memoryview(self._buf)
        self._n = 0
        self._discarding = False
        self.frames = 0
        self.cobs_errors = 0
        self.crc_errors = 0
        self.length_errors = 0
        self.type_errors = 0
        self.version_errors = 0
        self.overflows = 0
        self.memory_errors = 0

    def feed(self, data):
        """Return the list of Frames completed by data (an empty tuple if none fit in RAM)."""
        frames = None
        try:
            frames = []
            self._feed(data, frames)
        except MemoryError:
            # The heap is full: what was half assembled is dropped up to the next delimiter.
            # The rest of data is lost; the next frame starts clean if data ended a frame.
            self.memory_errors += 1
            self._n = 0
            n = len(data)
            self._discarding = not (n and data[n - 1] == 0)
        return frames if frames is not None else ()

    def _feed(self, data, frames):
        start = 0
        n = len(data)
        while start < n:
            end = data.find(b"\x00", start)
            if end > start and not self._n and not self._discarding:
                # A whole frame inside data (the host's case): decode it in place.
                if end - start > self.max_frame:
                    self.overflows += 1
                else:
                    frame = self._decode(data[start:end])
                    if frame is not None:
                        frames.append(frame)
                start = end + 1
                continue
            stop = n if end < 0 else end
            if not self._discarding and stop > start:
                k = stop - start
                if self._n + k > self.max_frame:
                    self.overflows += 1
                    self._discarding = True
                    self._n = 0
                elif k == 1:
                    # The handheld feeds one byte at a time: no slice object for it.
                    self._buf[self._n] = data[start]
                    self._n += 1
                else:
                    self._buf[self._n:self._n + k] = data[start:stop]
                    self._n += k
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            elif self._n:
                k = self._n
                self._n = 0
                frame = self._decode(self._mv[:k])
                if frame is not None:
                    frames.append(frame)
            start = end + 1

    def _decode(self, chunk):
        raw = cobs_decode(chunk)
        if raw is None:
            self.cobs_errors += 1
            return None
        frame, err = parse_frame(raw)
        if frame is None:
            if err == ERR_CRC:
                self.crc_errors += 1
            elif err == ERR_LENGTH or err == ERR_SHORT:
                self.length_errors += 1
            elif err == ERR_TYPE:
                self.type_errors += 1
            else:
                self.version_errors += 1
            return None
        self.frames += 1
        return frame

    def errors(self):
        return (self.cobs_errors + self.crc_errors + self.length_errors + self.type_errors
                + self.version_errors + self.overflows + self.memory_errors)
