"""Signed tasking: HMAC against RFC 4231, the handheld's checks in MicroPython, and
`rfhound tasking sign|verify`."""

import json
import time

import pytest

from firmware import tasking as T
from host.cli import main as rfhound

from .conftest import KEY, tasking_body


def test_hmac_sha256_rfc4231_vectors(run_mpy):
    # RFC 4231 test cases 1 and 2 (case 6: a 131-byte key, hashed first).
    cases = [("0b" * 20, b"Hi There".hex(),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
             (b"Jefe".hex(), b"what do ya want for nothing?".hex(),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
             ("aa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First".hex(),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")]
    for k, m, want in cases:
        assert T.hmac_sha256(bytes.fromhex(k), bytes.fromhex(m)).hex() == want
    got = run_mpy("import json, binascii, tasking\nprint(json.dumps([binascii.hexlify("
                  "tasking.hmac_sha256(binascii.unhexlify(k), binascii.unhexlify(m))).decode()"
                  " for k, m, w in %s]))" % json.dumps(cases))
    assert got == [c[2] for c in cases]


def _check_in_mpy(run_mpy, blob, now, last_serial=0, last_digest=None, key=KEY):
    return run_mpy("""
import json, binascii, tasking
blob = binascii.unhexlify(%r)
last = binascii.unhexlify(%r) if %r else None
try:
    body, digest = tasking.check(blob, %r, %d, 0x52460001, %d, last, False)
    whole, _ = tasking.check(blob, %r, %d, 0x52460001, %d, last)
    print(json.dumps({"ok": body["serial"], "digest": binascii.hexlify(digest).decode(),
                      "n": len(whole["targets"]), "header_only": "targets" not in body}))
except tasking.TaskingError as e:
    print(json.dumps({"reason": e.reason, "detail": e.detail}))
""" % (blob.hex(), last_digest or "", bool(last_digest), key, now, last_serial, key, now,
       last_serial))


def test_checks_in_micropython(run_mpy):
    now = 1800000000
    good = T.sign(KEY, tasking_body(serial=5, now=now))
    r = _check_in_mpy(run_mpy, good, now)
    assert r["ok"] == 5 and r["n"] == 1 and r["header_only"]
    digest = r["digest"]
    tampered = bytearray(good)
    tampered[good.index(b"rack A")] ^= 0x01
    assert _check_in_mpy(run_mpy, bytes(tampered), now)["reason"] == T.BAD_SIGNATURE
    assert _check_in_mpy(run_mpy, good, now, key=b"another-key")["reason"] == T.BAD_SIGNATURE
    assert _check_in_mpy(run_mpy, good, now + 3600)["reason"] == T.EXPIRED
    assert _check_in_mpy(run_mpy, good, now - 61)["reason"] == T.NOT_YET_VALID
    older = T.sign(KEY, tasking_body(serial=4, now=now))
    assert _check_in_mpy(run_mpy, older, now, 5, digest)["reason"] == T.REPLAYED
    other5 = T.sign(KEY, tasking_body(serial=5, now=now, issuer="someone else"))
    assert _check_in_mpy(run_mpy, other5, now, 5, digest)["reason"] == T.REPLAYED
    assert _check_in_mpy(run_mpy, good, now, 5, digest)["ok"] == 5  # same one again: a re-send
    other_dev = T.sign(KEY, tasking_body(serial=6, now=now, devices=[0x52460002]))
    assert _check_in_mpy(run_mpy, other_dev, now, 5, digest)["reason"] == T.MALFORMED


@pytest.mark.parametrize("mutate, detail", [
    (lambda b: b.update(targets=[]), "targets must list"),
    (lambda b: b.update(targets=b["targets"] * 129), "targets must list"),
    (lambda b: b["targets"][0].update(rat="WIFI"), "rat must be one of"),
    (lambda b: b["targets"][0].update(uplink_hz=7000000000), "uplink_hz"),
    (lambda b: b.update(not_after=b["not_before"]), "not_after"),
    (lambda b: b["targets"][0].update(schedule=[[600, 2000]]), "schedule"),
])
def test_malformed_but_signed_taskings_are_refused(mutate, detail):
    body = tasking_body()
    mutate(body)
    with pytest.raises(T.TaskingError) as e:
        T.check(T.sign(KEY, body), KEY, int(time.time()))
    assert e.value.reason == T.MALFORMED and detail in e.value.detail


def test_schedule_windows_wrap_midnight():
    t = {"schedule": [[1380, 60]]}
    assert T.active(t, 1400) and T.active(t, 30) and not T.active(t, 600)
    assert T.active({}, 600)


def test_cli_sign_and_verify(tmp_path, capsys):
    key = tmp_path / "operator.key"
    key.write_bytes(KEY + b"\n")
    src = tmp_path / "hunt.json"
    body = tasking_body()
    del body["not_before"], body["not_after"]
    body["targets"].append({"label": "rack A port 2", "imsi": "460001234567899", "rat": "LTE",
                            "channel": 1300, "band": 3, "bandwidth_hz": 5000000})
    src.write_text(json.dumps(body))
    out = tmp_path / "hunt.rft"
    assert rfhound(["tasking", "sign", str(src), "--key-file", str(key), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "46000********99" in printed and "460001234567899" not in printed
    T.check(out.read_bytes(), KEY, int(time.time()))
    signed_body = T.read_body(out.read_bytes())
    # EARFCN 1300 is band 3 downlink 1815 MHz; its uplink is 95 MHz lower (TS 36.101 5.7.3)
    assert signed_body["targets"][1]["uplink_hz"] == 1720000000
    assert rfhound(["tasking", "verify", str(out), "--key-file", str(key)]) == 0
    assert rfhound(["tasking", "verify", str(out), "--key-hex", b"wrong-key".hex()]) == 1
    assert "REJECTED (bad_signature)" in capsys.readouterr().out
    later = int(time.time()) + 13 * 3600
    assert rfhound(["tasking", "verify", str(out), "--key-file", str(key), "--at", str(later)]) == 1
    assert "REJECTED (expired)" in capsys.readouterr().out


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    key = tmp_path / "k"
    key.write_bytes(KEY)
    src = tmp_path / "bad.json"
    src.write_text('{"serial": 1, "issuer": "x", "targets": [{"label": "a", "rat": "LTE"}]}')
    assert rfhound(["tasking", "sign", str(src), "--key-file", str(key), "-o",
                    str(tmp_path / "o.rft")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfhound tasking: error: ") and "\n" not in err
    assert rfhound(["tasking", "verify", str(tmp_path / "missing.rft"), "--key-file", str(key)]) == 2
