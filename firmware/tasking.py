# Signed tasking: what the handheld may hunt, authorised by the operator's key.
#
# Runs unchanged on the handheld (MicroPython) and on the host (CPython, `rfhound tasking`),
# so it imports only hashlib, json and struct, which both runtimes have.
#
# Signed blob = b"RFT1" + <I body length> + body + HMAC-SHA256(key, everything before).
# The body is UTF-8 JSON lines: a header object (format, serial, issuer, validity window,
# optional devices, n_targets), then one object per target. Line by line, the handheld
# parses one target at a time: a 128-target tasking never sits in RAM as one JSON tree.
# The signature is checked before the body is parsed: nothing unauthenticated is interpreted.
import hashlib
import json
import struct

MAGIC = b"RFT1"
FORMAT = "rfhound-tasking/1"
MAC_SIZE = 32
MAX_TARGETS = 128
MAX_LINE = 1024
RATS = ("GSM", "UMTS", "LTE", "NR")
# An IMSI is MCC (3) + MNC (2-3) + MSIN (up to 10) digits (3GPP TS 23.003 2.2); the ones
# hunted here have full-length MSINs.
IMSI_DIGITS = (14, 15)

# Reasons a tasking is refused (main.py maps them onto protocol NAK codes).
BAD_SIGNATURE = "bad_signature"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
REPLAYED = "replayed"
MALFORMED = "malformed"


class TaskingError(Exception):
    def __init__(self, reason, detail):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104) over hashlib.sha256, which both runtimes provide.
    msg is bytes, or an iterable of byte pieces."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = bytes(key) + bytes(64 - len(key))
    inner = hashlib.sha256(bytes([b ^ 0x36 for b in key]))
    if isinstance(msg, (bytes, bytearray, memoryview)):
        inner.update(msg)
    else:
        for piece in msg:
            inner.update(piece)
    outer = hashlib.sha256(bytes([b ^ 0x5C for b in key]))
    outer.update(inner.digest())
    return outer.digest()


def _equal(a, b):
    # Constant time in the contents: a MAC check must not leak how many bytes matched.
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def encode_body(body):
    """The JSON-lines body of a tasking dict (header line, then one line per target)."""
    header = {}
    for k in body:
        if k != "targets":
            header[k] = body[k]
    header["n_targets"] = len(body.get("targets") or [])
    lines = [json.dumps(header)] + [json.dumps(t) for t in body.get("targets") or []]
    return "\n".join(lines).encode()


def sign(key, body):
    """Sign a tasking dict; return the blob."""
    raw = encode_body(body)
    head = MAGIC + struct.pack("<I", len(raw)) + raw
    return head + hmac_sha256(key, head)


class _Parts:
    """A signed blob held as a list of pieces (the TASKING chunks as they arrived), so the
    handheld never needs one contiguous buffer for it."""

    def __init__(self, blob):
        self.parts = blob if isinstance(blob, list) else [blob]
        self.size = 0
        for p in self.parts:
            self.size += len(p)

    def views(self, start, end):
        """memoryviews covering bytes [start, end) of the blob."""
        at = 0
        for p in self.parts:
            lo = start - at if start > at else 0
            hi = end - at if end - at < len(p) else len(p)
            if lo < hi:
                yield memoryview(p)[lo:hi]
            at += len(p)

    def bytes(self, start, end):
        out = bytearray()
        for v in self.views(start, end):
            out += v
        return bytes(out)

    def lines(self, start, end):
        """The body's lines, one bytes object at a time."""
        line = bytearray()
        for v in self.views(start, end):
            for b in v:
                if b == 0x0A:
                    yield bytes(line)
                    line = bytearray()
                elif len(line) < MAX_LINE:
                    line.append(b)
                else:
                    raise TaskingError(MALFORMED, "line longer than %d bytes" % MAX_LINE)
        yield bytes(line)


def _layout(parts):
    if parts.size < 8 + MAC_SIZE or parts.bytes(0, 4) != MAGIC:
        raise TaskingError(MALFORMED, "not an rfhound tasking (magic)")
    n = struct.unpack("<I", parts.bytes(4, 8))[0]
    if 8 + n + MAC_SIZE != parts.size:
        raise TaskingError(MALFORMED, "length field %d does not match %d bytes" % (n, parts.size))
    return n


def _json(line, what):
    try:
        return json.loads(line)
    except (ValueError, UnicodeError, RuntimeError):
        # RuntimeError: CPython's RecursionError on a deeply nested line.
        raise TaskingError(MALFORMED, what + " is not UTF-8 JSON")


def targets(blob):
    """Yield the target dicts of a blob that check() or open_blob() accepted."""
    parts = _Parts(blob)
    n = _layout(parts)
    first = True
    for line in parts.lines(8, 8 + n):
        if first:
            first = False
            continue
        yield _json(line, "target")


def open_blob(blob, key):
    """Check the signature and every line; return (header dict, digest of the blob).

    blob is the signed bytes, or a list of its consecutive pieces. Raise TaskingError."""
    parts = _Parts(blob)
    n = _layout(parts)
    if not _equal(hmac_sha256(key, parts.views(0, 8 + n)), parts.bytes(8 + n, parts.size)):
        raise TaskingError(BAD_SIGNATURE, "HMAC-SHA256 does not verify under this key")
    h = hashlib.sha256()
    for v in parts.views(0, parts.size):
        h.update(v)
    header = None
    count = 0
    for line in parts.lines(8, 8 + n):
        if header is None:
            header = _json(line, "header")
            validate_header(header)
            continue
        validate_target(_json(line, "target %d" % count), count)
        count += 1
    if count != header["n_targets"]:
        raise TaskingError(MALFORMED, "header says %d targets, body has %d"
                           % (header["n_targets"], count))
    return header, h.digest()


def read_body(blob):
    """The whole tasking as one dict (host side: it has the memory)."""
    parts = _Parts(blob)
    n = _layout(parts)
    body = None
    for line in parts.lines(8, 8 + n):
        if body is None:
            body = _json(line, "header")
            body["targets"] = []
        else:
            body["targets"].append(_json(line, "target"))
    return body


def _need(cond, detail):
    if not cond:
        raise TaskingError(MALFORMED, detail)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def imsi_ok(v):
    """Whether v is an IMSI as a tasking carries it: a string of 14 or 15 ASCII digits."""
    if not isinstance(v, str) or not IMSI_DIGITS[0] <= len(v) <= IMSI_DIGITS[1]:
        return False
    for c in v:
        if not "0" <= c <= "9":
            return False
    return True


def validate_header(h):
    _need(isinstance(h, dict), "header is not an object")
    _need(h.get("format") == FORMAT, "format is not %s" % FORMAT)
    for k in ("serial", "not_before", "not_after", "n_targets"):
        _need(_is_int(h.get(k)), "%s must be an integer" % k)
    _need(h["serial"] > 0, "serial must be positive")
    _need(h["not_after"] > h["not_before"], "not_after must follow not_before")
    _need(isinstance(h.get("issuer"), str) and h["issuer"], "issuer missing")
    _need(h.get("issued_at") is None or _is_int(h["issued_at"]), "issued_at must be an integer")
    _need(1 <= h["n_targets"] <= MAX_TARGETS, "targets must list 1..%d entries" % MAX_TARGETS)
    devices = h.get("devices")
    _need(devices is None or (isinstance(devices, list) and all(_is_int(d) for d in devices)),
          "devices must be a list of device ids")


def validate_target(t, i):
    where = "target %d: " % i
    _need(isinstance(t, dict), where + "not an object")
    _need(isinstance(t.get("label"), str), where + "label missing")
    _need(t.get("rat") in RATS, where + "rat must be one of " + ",".join(RATS))
    _need(_is_int(t.get("channel")), where + "channel must be an integer")
    # The AD9363's limits (data sheet; firmware/ad9363.py raises on the same): a target
    # beyond them cannot be hunted with this front end, so the tasking refuses it.
    _need(_is_int(t.get("uplink_hz")), where + "uplink_hz must be an integer")
    _need(325000000 <= t["uplink_hz"] <= 3800000000,
          where + "uplink_hz %d MHz is outside the AD9363's 325-3800 MHz (n79 and the 4900 band "
          "need a second front end, hardware/README.md)" % (t["uplink_hz"] // 1000000))
    _need(_is_int(t.get("bandwidth_hz")) and 100000 <= t["bandwidth_hz"] <= 20000000,
          where + "bandwidth_hz must be 100 kHz..20 MHz (the AD9363's widest RF filter)")
    imsi = t.get("imsi")
    _need(imsi is None or imsi_ok(imsi), where + "imsi must be a string of %d-%d digits"
          % IMSI_DIGITS)
    _validate_air(t, where)
    sched = t.get("schedule")
    if sched is not None:
        _need(isinstance(sched, list), where + "schedule must be a list")
        for w in sched:
            _need(isinstance(w, list) and len(w) == 2 and _is_int(w[0]) and _is_int(w[1])
                  and 0 <= w[0] < 1440 and 0 < w[1] <= 1440,
                  where + "schedule windows are [start_min, end_min] of the UTC day")


# TS 38.331 periods that divide the 10 ms frame (3 and 4 ms need a second pattern)
NR_TDD_PERIODS_US = (500, 625, 1000, 1250, 2000, 2500, 5000, 10000)
MAX_HOPS = 64


def _validate_air(t, where):
    """The optional air-interface fields: TDD frame structure and GSM hopping list."""
    for k, lo, hi in (("tdd_config", 0, 6), ("special_subframe", 0, 9),
                      ("tdd_offset_us", -10000, 10000)):
        v = t.get(k)
        _need(v is None or (_is_int(v) and lo <= v <= hi),
              where + "%s must be an integer %d..%d" % (k, lo, hi))
    _need(t.get("tdd_config") is None or t["rat"] == "LTE",
          where + "tdd_config is for LTE targets (NR takes nr_tdd)")
    nr = t.get("nr_tdd")
    if nr is not None:
        _need(t["rat"] == "NR", where + "nr_tdd is for NR targets")
        _need(isinstance(nr, list) and len(nr) == 6 and all(_is_int(v) and v >= 0 for v in nr)
              and nr[0] in NR_TDD_PERIODS_US and nr[1] in (15, 30, 60)
              and nr[3] < 14 and nr[5] < 14,
              where + "nr_tdd is [period_us, scs_khz, dl_slots, dl_symbols, ul_slots, ul_symbols]")
    hops = t.get("hop_hz")
    if hops is not None:
        _need(t["rat"] == "GSM", where + "hop_hz is for GSM targets")
        _need(isinstance(hops, list) and 2 <= len(hops) <= MAX_HOPS
              and all(_is_int(h) and 70000000 <= h <= 6000000000 for h in hops),
              where + "hop_hz must list 2..%d uplink frequencies in Hz" % MAX_HOPS)


def validate(body):
    """Raise TaskingError(MALFORMED) unless a whole tasking dict is well-formed."""
    _need(isinstance(body, dict), "body is not an object")
    tl = body.get("targets")
    _need(isinstance(tl, list), "targets must be a list")
    header = {}
    for k in body:
        if k != "targets":
            header[k] = body[k]
    header["n_targets"] = len(tl)
    validate_header(header)
    for i, t in enumerate(tl):
        validate_target(t, i)


def check(blob, key, now_s, device_id=None, last_serial=0, last_digest=None, whole=True):
    """Accept or refuse a tasking for this device at time now_s (Unix seconds).

    Returns (body, digest): the whole tasking dict with its "targets" list, or with
    whole=False only the header (the handheld then walks targets(blob) one at a time,
    never holding them all as dicts). Raises TaskingError
    with reason BAD_SIGNATURE, MALFORMED, NOT_YET_VALID, EXPIRED or REPLAYED. A tasking
    whose serial is below the last accepted one, or equal to it with different contents,
    is a replay; the same tasking again is accepted (a re-send after a reconnect).
    """
    header, digest = open_blob(blob, key)
    devices = header.get("devices")
    if devices is not None and device_id is not None and device_id not in devices:
        raise TaskingError(MALFORMED, "tasking names other devices, not 0x%08X" % device_id)
    if now_s < header["not_before"]:
        raise TaskingError(NOT_YET_VALID, "valid from %d, now %d" % (header["not_before"], now_s))
    if now_s >= header["not_after"]:
        raise TaskingError(EXPIRED, "expired at %d, now %d" % (header["not_after"], now_s))
    serial = header["serial"]
    if serial < last_serial or (serial == last_serial and digest != last_digest):
        raise TaskingError(REPLAYED, "serial %d, last accepted %d" % (serial, last_serial))
    if whole:
        return read_body(blob), digest
    return header, digest


def active(target, minute_of_day):
    """Whether a target's activity schedule (if any) covers this UTC minute of the day."""
    sched = target.get("schedule")
    if not sched:
        return True
    for start, end in sched:
        if start <= end:
            if start <= minute_of_day < end:
                return True
        elif minute_of_day >= start or minute_of_day < end:
            return True
    return False
