"""Handhelds a simulated hunt can use, each as a factory the `Hunt` calls.

`firmware_handheld` is the real thing: the firmware in the MicroPython unix
port (or CPython) with its chips faked from the simulated world, reached over a
pty by `host.link.Link` like a handheld on USB; the factory signs the hunt's
tasking with the simulator's operator key, sends it and starts the hunt.
`model_handheld` skips firmware and link and samples the world directly; it is
labelled as such wherever its results appear.
"""

import queue
import time

from firmware import protocol as P
from firmware import tasking
from host.link import Link

#: The operator key the simulated handheld is provisioned with.
SIM_KEY = b"rfhound-simulator-operator-key"
SIM_DEVICE_ID = 0x52460051
#: Receive gain (dB): the firmware's default 40 dB saturates within a few metres of a
#: 1 W SIM, i.e. on the rack's own floor, where the climb must tell floors apart.
SIM_GAIN_DB = 20
#: Longest wait for the handheld to say HELLO, and for it to accept the tasking (s).
BOOT_TIMEOUT_S = 20.0
#: Tasking bytes per TASKING frame: the payload minus the chunk index and count.
CHUNK_BYTES = P.MAX_PAYLOAD - 2


class HandheldError(RuntimeError):
    """The virtual handheld did not come up or refused the tasking."""


def firmware_handheld(runtime="micropython"):
    """Factory for the real firmware in a virtual handheld."""

    def factory(env, body, accept):
        from host.virtual.handheld import VirtualHandheld

        hh = VirtualHandheld(env, key=SIM_KEY, device_id=SIM_DEVICE_ID, runtime=runtime,
                             config={"gain_db": SIM_GAIN_DB})
        url = hh.start()
        link = Link(url).start()

        def close():
            try:
                link.send(P.STOP)
            except ConnectionError:
                pass
            link.stop()
            hh.stop()

        try:
            _wait_for(link, accept, lambda r: r["kind"] == "HELLO", "HELLO", hh)
            blob = tasking.sign(SIM_KEY, body)
            chunks = [blob[i:i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)]
            for i, chunk in enumerate(chunks):
                link.send(P.TASKING, (i, len(chunks)), chunk)
            seq = link.send(P.START)
            _wait_for(link, accept, lambda r: r["kind"] in ("ACK", "NAK") and r.get(
                "acked_type", r.get("nacked_type")) == P.START and r.get(
                "acked_seq", r.get("nacked_seq")) == seq, "the answer to START", hh)
        except BaseException:
            close()
            raise
        return link, close

    return factory


def _wait_for(link, accept, predicate, what, hh):
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            rec = link.records.get(timeout=0.1)
        except queue.Empty:
            continue
        accept(rec)
        if rec["kind"] == "NAK":
            raise HandheldError("virtual handheld refused %s: %s"
                                % (P.MESSAGES.get(rec["nacked_type"], ("?",))[0], rec["reason_text"]))
        if predicate(rec):
            return rec
    raise HandheldError("virtual handheld sent no %s within %.0f s; firmware stderr: %s"
                        % (what, BOOT_TIMEOUT_S, hh.stderr_text()[-300:].strip() or "(empty)"))


def model_handheld():
    """Factory for the model-only handheld (no firmware, no link)."""

    def factory(env, body, accept):
        from host.sim.model_handheld import ModelHandheld

        hh = ModelHandheld(env, [t["uplink_hz"] for t in body["targets"]]).start()
        return hh, hh.stop

    return factory


HANDHELDS = {"micropython": lambda: firmware_handheld("micropython"),
             "cpython": lambda: firmware_handheld("cpython"),
             "model": model_handheld}
