"""Writes protocol_vectors.jsonl from the spec in docs/protocol.md, independently of
firmware/protocol.py: zlib's CRC-32 and a COBS encoder written from Cheshire & Baker's
description. Run by hand when the protocol version changes; the tests check that both
runtimes reproduce these bytes."""

import json
import struct
import zlib
from pathlib import Path

SPEC = [  # name, type, fixed payload format, fields, tail
    ("HELLO", 0x01, "<BBBBIIHB", [0, 3, 1, 2, 0x52460001, 20261128, 0x007F, 128], b""),
    ("STATUS", 0x02, "<HBhBBBBHHBbBB", [3912, 87, 3150, 1, 9, 1, 1, 0x0002, 0, 4, 2, 12, 1], b""),
    ("MEAS", 0x03, "<BBhHbHiiibH", [5, 0x00, -7350, 412, 40, 27150, 311234567, 1214567890, 123, 3, 50], b""),
    ("MEAS_not_detected", 0x03, "<BBhHbHiiibH", [127, 0x03, -11000, 0, 70, 0xFFFF, -338765432, -585432109, -35, -2, 20], b""),
    ("MARK", 0x04, "<HiiibH", [17, 311234567, 1214567890, 456, 5, 9000], b""),
    ("LOG", 0x05, "<B", [2], "GNSS fix lost".encode()),
    ("ACK", 0x06, "<BH", [0x42, 513], b""),
    ("NAK", 0x07, "<BHB", [0x40, 7, 4], b""),
    ("TASKING", 0x40, "<BB", [0, 2], b'{"targets":[{"label":"T1"}]}'),
    ("SET_CALIBRATION", 0x41, "<IBBHHhhhhhhb", [20261128, 0, 3, 880, 915, -1250, 10000, -25, 2500, -11500, -2000, 40], b""),
    ("START", 0x42, "<", [], b""),
    ("STOP", 0x43, "<", [], b""),
    ("SET_MODE", 0x44, "<BIbB", [2, 1747500, 30, 0], b""),
    ("PING", 0x45, "<I", [0xDEADBEEF], b""),
]


def cobs(data):
    out, block = bytearray(), bytearray()
    for b in data:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes(out) + b"\x00"


def main():
    lines = []
    for i, (name, mtype, fmt, fields, tail) in enumerate(SPEC):
        seq, time_ms = 1000 + i * 257, 123456789 + i
        body = struct.pack("<BBHI", 1, mtype, seq, time_ms) + struct.pack(fmt, *fields) + tail
        frame = cobs(body + struct.pack("<I", zlib.crc32(body)))
        lines.append(json.dumps({"name": name, "type": mtype, "seq": seq, "time_ms": time_ms,
                                 "fields": fields, "tail_hex": tail.hex(),
                                 "frame_hex": frame.hex()}))
    Path(__file__).with_name("protocol_vectors.jsonl").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
