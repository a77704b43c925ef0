"""Decoded frames/s through host.link.Link over a pty, against the raw pty byte rate.

Both are measured in the same run on the same pty kind: the raw pass reads and discards
bytes with pyserial, the decoded pass runs the full Link (COBS, CRC, records). The ratio
is the share of the pty's capacity the decoder keeps up with.
"""

import argparse
import os
import threading
import time

import serial

from firmware import protocol as P
from host.link import Link


def meas_stream(n):
    return b"".join(P.encode(P.MEAS, i & 0xFFFF, i, (i % 128, 0, -7000, 400, 30, 4500,
                                                     311234567, 1214567890, 100, 0, 50))
                    for i in range(n))


def _writer(fd, blob):
    view = memoryview(blob)
    while view:
        k = os.write(fd, view[:4096])
        view = view[k:]


def raw_rate(blob):
    master, slave = os.openpty()
    port = serial.Serial(os.ttyname(slave), timeout=0.2)
    t = threading.Thread(target=_writer, args=(master, blob))
    got = 0
    t0 = time.perf_counter()
    t.start()
    while got < len(blob):
        got += len(port.read(max(1, port.in_waiting)))
    dt = time.perf_counter() - t0
    t.join()
    port.close()
    os.close(master)
    os.close(slave)
    return len(blob) / dt


def decoded_rate(blob, n_frames):
    master, slave = os.openpty()
    done = threading.Event()
    count = [0]

    def on_record(rec):
        count[0] += 1
        if count[0] == n_frames:
            done.set()

    link = Link(os.ttyname(slave), on_record=on_record).start()
    link.wait_connected()
    t = threading.Thread(target=_writer, args=(master, blob))
    t0 = time.perf_counter()
    t.start()
    done.wait(120)
    dt = time.perf_counter() - t0
    t.join()
    stats = link.stats()
    link.stop()
    os.close(master)
    os.close(slave)
    return count[0] / dt, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=50000)
    args = ap.parse_args()
    blob = meas_stream(args.frames)
    frame_len = len(blob) / args.frames
    raw_bps = raw_rate(blob)
    fps, stats = decoded_rate(blob, args.frames)
    raw_fps = raw_bps / frame_len
    print("frames: %d MEAS, %.1f bytes each on the wire" % (args.frames, frame_len))
    print("raw pty read rate: %.2f MB/s = %.0f frames/s equivalent" % (raw_bps / 1e6, raw_fps))
    print("decoded by Link:   %.0f frames/s (crc_errors=%d, lost=%d)"
          % (fps, stats["crc_errors"], stats["lost_frames"]))
    print("ratio decoded/raw: %.2f" % (fps / raw_fps))
    print("a handheld sends ~100-500 frames/s: headroom %.0fx at 500 frames/s" % (fps / 500))


if __name__ == "__main__":
    main()
