# Signed tasking: what the handheld may hunt, authorised by the operator's key.
#
# Runs unchanged on the handheld (MicroPython) and on the host (CPython, `rfhound tasking`),
# so it imports only hashlib, json and struct, which both runtimes have.
#
# Signed blob = b"RFT1" + <I body length> + body (UTF-8 JSON) + HMAC-SHA256(key, all before).
# The signature is checked before the body is parsed: nothing unauthenticated is interpreted.
import hashlib
import json
import struct

MAGIC = b"RFT1"
FORMAT = "rfhound-tasking/1"
MAC_SIZE = 32
MAX_TARGETS = 128
RATS = ("GSM", "UMTS", "LTE", "NR")

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
    """HMAC-SHA256 (RFC 2104) over hashlib.sha256, which both runtimes provide."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = bytes(key) + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
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


def sign(key, body):
    """Sign a tasking dict; return the blob."""
    raw = json.dumps(body).encode()
    head = MAGIC + struct.pack("<I", len(raw)) + raw
    return head + hmac_sha256(key, head)


def open_blob(blob, key):
    """Check the signature and return (body dict, digest). Raise TaskingError."""
    blob = bytes(blob)
    if len(blob) < 8 + MAC_SIZE or blob[:4] != MAGIC:
        raise TaskingError(MALFORMED, "not an rfhound tasking (magic)")
    n = struct.unpack("<I", blob[4:8])[0]
    if 8 + n + MAC_SIZE != len(blob):
        raise TaskingError(MALFORMED, "length field %d does not match %d bytes" % (n, len(blob)))
    head = blob[:8 + n]
    mac = blob[8 + n:]
    if not _equal(hmac_sha256(key, head), mac):
        raise TaskingError(BAD_SIGNATURE, "HMAC-SHA256 does not verify under this key")
    try:
        body = json.loads(head[8:].decode())
    except (ValueError, UnicodeError):
        raise TaskingError(MALFORMED, "body is not UTF-8 JSON")
    validate(body)
    return body, hashlib.sha256(blob).digest()


def _need(cond, detail):
    if not cond:
        raise TaskingError(MALFORMED, detail)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def validate(body):
    """Raise TaskingError(MALFORMED) unless body is a well-formed tasking."""
    _need(isinstance(body, dict), "body is not an object")
    _need(body.get("format") == FORMAT, "format is not %s" % FORMAT)
    for k in ("serial", "not_before", "not_after"):
        _need(_is_int(body.get(k)), "%s must be an integer" % k)
    _need(body["serial"] > 0, "serial must be positive")
    _need(body["not_after"] > body["not_before"], "not_after must follow not_before")
    _need(isinstance(body.get("issuer"), str) and body["issuer"], "issuer missing")
    devices = body.get("devices")
    _need(devices is None or (isinstance(devices, list) and all(_is_int(d) for d in devices)),
          "devices must be a list of device ids")
    targets = body.get("targets")
    _need(isinstance(targets, list) and 1 <= len(targets) <= MAX_TARGETS,
          "targets must list 1..%d entries" % MAX_TARGETS)
    for i, t in enumerate(targets):
        where = "target %d: " % i
        _need(isinstance(t, dict), where + "not an object")
        _need(isinstance(t.get("label"), str), where + "label missing")
        _need(t.get("rat") in RATS, where + "rat must be one of " + ",".join(RATS))
        _need(_is_int(t.get("channel")), where + "channel must be an integer")
        _need(_is_int(t.get("uplink_hz")) and 70000000 <= t["uplink_hz"] <= 6000000000,
              where + "uplink_hz must be 70 MHz..6 GHz")
        _need(_is_int(t.get("bandwidth_hz")) and 100000 <= t["bandwidth_hz"] <= 56000000,
              where + "bandwidth_hz must be 100 kHz..56 MHz")
        imsi = t.get("imsi")
        _need(imsi is None or isinstance(imsi, str), where + "imsi must be a string")
        sched = t.get("schedule")
        if sched is not None:
            _need(isinstance(sched, list), where + "schedule must be a list")
            for w in sched:
                _need(isinstance(w, list) and len(w) == 2 and _is_int(w[0]) and _is_int(w[1])
                      and 0 <= w[0] < 1440 and 0 < w[1] <= 1440,
                      where + "schedule windows are [start_min, end_min] of the UTC day")


def check(blob, key, now_s, device_id=None, last_serial=0, last_digest=None):
    """Accept or refuse a tasking for this device at time now_s (Unix seconds).

    Returns (body, digest). Raises TaskingError with reason BAD_SIGNATURE, MALFORMED,
    NOT_YET_VALID, EXPIRED or REPLAYED. A tasking whose serial is below the last accepted
    one, or equal to it with different contents, is a replay; the same tasking again is
    accepted (a re-send after a reconnect).
    """
    body, digest = open_blob(blob, key)
    devices = body.get("devices")
    if devices is not None and device_id is not None and device_id not in devices:
        raise TaskingError(MALFORMED, "tasking names other devices, not 0x%08X" % device_id)
    if now_s < body["not_before"]:
        raise TaskingError(NOT_YET_VALID, "valid from %d, now %d" % (body["not_before"], now_s))
    if now_s >= body["not_after"]:
        raise TaskingError(EXPIRED, "expired at %d, now %d" % (body["not_after"], now_s))
    serial = body["serial"]
    if serial < last_serial or (serial == last_serial and digest != last_digest):
        raise TaskingError(REPLAYED, "serial %d, last accepted %d" % (serial, last_serial))
    return body, digest


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
