"""rfhound tasking: sign a tasking for the handheld, or check a signed one.

The signed format and the checks are firmware/tasking.py, the same code the handheld runs.
"""

import os
import time
from pathlib import Path

from host.errors import UserError

NAME = "tasking"
HELP = "sign a tasking (what the handheld may hunt) with the operator key, or verify one"


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="{sign,verify}")
    sub.required = True
    s = sub.add_parser("sign", help="sign a tasking JSON into a .rft file the handheld accepts")
    s.add_argument("tasking", help="tasking JSON: issuer, serial, targets[label, imsi, rat, "
                   "channel, bandwidth_hz, optional uplink_hz/band/schedule] (docs/firmware.md)")
    _key_args(s)
    s.add_argument("-o", "--out", required=True, help="signed tasking file to write (.rft)")
    s.add_argument("--serial", type=int, help="serial number (overrides the JSON's)")
    s.add_argument("--valid-from", type=int, metavar="UNIX_S",
                   help="start of validity (default: the JSON's not_before, else now)")
    s.add_argument("--valid-hours", type=float, default=12.0,
                   help="validity length when the JSON has no not_after (default 12)")
    v = sub.add_parser("verify", help="check a signed tasking's signature and validity")
    v.add_argument("signed", help="signed tasking file (.rft)")
    _key_args(v)
    v.add_argument("--at", type=int, metavar="UNIX_S", help="check validity at this time (default now)")
    v.add_argument("--device-id", type=lambda s: int(s, 0), help="check it names this device")


def _key_args(p):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--key-file", help="file holding the operator key (raw bytes; a final newline is ignored)")
    g.add_argument("--key-hex", help="the operator key as hex")


def _key(args):
    if args.key_hex is not None:
        try:
            key = bytes.fromhex(args.key_hex)
        except ValueError:
            raise UserError("--key-hex: not a hex string") from None
    else:
        try:
            key = Path(args.key_file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise UserError("key file %s: %s" % (args.key_file, exc.strerror)) from None
    if len(key) < 8:
        raise UserError("operator key has %d bytes; use at least 16 random bytes" % len(key))
    return key


def _fill(body, args):
    from dsp import bands
    body.setdefault("format", "rfhound-tasking/1")
    if args.serial is not None:
        body["serial"] = args.serial
    now = int(time.time())
    if args.valid_from is not None:
        body["not_before"] = args.valid_from
    body.setdefault("not_before", now)
    if "not_after" not in body:
        nb = body["not_before"]
        if isinstance(nb, bool) or not isinstance(nb, int):
            raise UserError("%s: not_before must be an integer (Unix seconds)" % args.tasking)
        body["not_after"] = int(nb + args.valid_hours * 3600)
    body.setdefault("issued_at", now)
    targets = body.get("targets")
    # (validate() says what is wrong with a targets that is not a list)
    for i, t in enumerate(targets if isinstance(targets, list) else []):
        if isinstance(t, dict) and t.get("imsi") is not None:
            # The door for IMSIs: 14-15 digits (an integer or padded string is normalised),
            # anything else refused here, before a file is written.
            from host.privacy import normalise_imsi
            try:
                t["imsi"] = normalise_imsi(t["imsi"])
            except ValueError as exc:
                raise UserError("%s: target %d: %s" % (args.tasking, i, exc)) from None
        if isinstance(t, dict) and isinstance(t.get("rat"), str):
            _fill_air(t, i, args)
        if isinstance(t, dict) and "uplink_hz" not in t and isinstance(t.get("rat"), str):
            try:
                t["uplink_hz"] = int(round(bands.uplink_hz(t["rat"].lower(), t["channel"],
                                                           band=t.get("band"))))
            except (KeyError, ValueError, TypeError) as exc:
                raise UserError("%s: target %d: cannot derive uplink_hz from rat %r channel %r"
                                " (%s); give uplink_hz" % (args.tasking, i, t.get("rat"),
                                                          t.get("channel"), exc)) from None
    return body


def _fill_air(t, i, args):
    """Hopping ARFCNs to uplink Hz; a TDD band's usual frame structure where none is given."""
    from dsp import bands, tdd
    rat = t["rat"].lower()
    if rat == "gsm" and "hop_arfcns" in t and "hop_hz" not in t:
        try:
            t["hop_hz"] = [int(round(bands.uplink_hz("gsm", a, band=t.get("band"))))
                           for a in t["hop_arfcns"]]
        except (ValueError, TypeError) as exc:
            raise UserError("%s: target %d: hop_arfcns: %s" % (args.tasking, i, exc)) from None
    if rat not in ("lte", "nr") or "channel" not in t:
        return
    try:
        _, band = bands.uplink_band(rat, t["channel"], t.get("band"))
    except (ValueError, TypeError):
        return      # the uplink_hz check below says what is wrong with the channel
    d = tdd.BAND_DEFAULTS.get(band)
    if d and rat == "lte":
        t.setdefault("tdd_config", d["config"])
        t.setdefault("special_subframe", d["special"])
    if d and rat == "nr" and "nr_tdd" not in t:
        t["nr_tdd"] = [int(round(d["period_ms"] * 1000)), d["scs_khz"], d["dl_slots"],
                       d["dl_symbols"], d["ul_slots"], d["ul_symbols"]]


def _utc(unix_s):
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(unix_s))
    except (OverflowError, OSError, ValueError):
        return "%d s" % unix_s


def _summary(body):
    from host.privacy import mask_imsi
    lines = ["tasking %d from %s, valid %s .. %s UTC, %d targets" % (
        body["serial"], body["issuer"], _utc(body["not_before"]), _utc(body["not_after"]),
        len(body["targets"]))]
    for i, t in enumerate(body["targets"]):
        imsi = mask_imsi(t["imsi"]) if t.get("imsi") else "-"
        lines.append("  %3d  %-20s %-4s ch %-7d %10.3f MHz  %s" % (
            i, t["label"][:20], t["rat"], t["channel"], t["uplink_hz"] / 1e6, imsi))
    return "\n".join(lines)


def _write_private(path, data):
    """Write a signed tasking (it holds full IMSIs) readable by its owner only (0600)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_TRUNC
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise UserError("%s: cannot write the signed tasking (%s)" % (path, exc.strerror)) from None


def run(args):
    from firmware import tasking as T
    key = _key(args)
    if args.action == "sign":
        from host import jsonfile
        body = jsonfile.load(args.tasking, what="the tasking", max_bytes=1 << 20)
        body = _fill(body, args)
        try:
            T.validate(body)
        except T.TaskingError as exc:
            raise UserError("%s: %s" % (args.tasking, exc.detail)) from None
        summary = _summary(body)
        _write_private(args.out, T.sign(key, body))
        print(summary)
        print("signed -> %s" % args.out)
        return 0
    try:
        blob = Path(args.signed).read_bytes()
    except OSError as exc:
        raise UserError("%s: %s" % (args.signed, exc.strerror)) from None
    now = args.at if args.at is not None else int(time.time())
    try:
        body, _ = T.check(blob, key, now, device_id=args.device_id)
    except T.TaskingError as exc:
        print("%s: REJECTED (%s): %s" % (args.signed, exc.reason, exc.detail))
        return 1
    print(_summary(body))
    print("%s: OK" % args.signed)
    return 0
