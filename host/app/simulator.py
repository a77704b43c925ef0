"""The simulator as a console source: a simulated hunt (``host.sim``) behind a link-shaped face.

The hunt runs the real firmware in a virtual handheld over a real link on its
own thread and records its own session file; this adaptor queues each record
for the console as the hunt stores it, as ``rfhound demo`` does.
"""

import queue
import tempfile
import threading
import time
from pathlib import Path


class SimulatedHunt:
    """Link-shaped source (``start``, ``stop``, ``send``, ``stats``, ``records``).

    Parameters
    ----------
    world : host.sim.world.World
    seed : int
    speed : float
        Simulated seconds per real second.
    session_path : str or None
        Session file the hunt records to (default: a new file in the temp folder).
    handheld : str or None
        ``"micropython"``, ``"cpython"`` or ``"model"`` (see ``rfhound demo``);
        default MicroPython when installed.
    """

    def __init__(self, world, seed=1, speed=4.0, session_path=None, handheld=None):
        self.world = world
        self.handheld = handheld
        self.seed = seed
        self.speed = speed
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.session_path = session_path or str(
            Path(tempfile.gettempdir()) / f"rfhound-sim-{world.name}-{seed}-{stamp}.sqlite")
        self.records = queue.Queue()
        self.last_error = None
        self._hunt = None
        self._thread = None

    def tasking(self):
        """The world's targets as a tasking dict (IMSIs in clear: mask before showing)."""
        return {"targets": [{"label": f"SIM {t.sim}", "imsi": t.imsi, "rat": t.rat.upper(),
                             "channel": t.channel, "freq_hz": t.freq_hz}
                            for t in self.world.targets]}

    def start(self):
        self._thread = threading.Thread(target=self._run, name="rfhound-sim-hunt", daemon=True)
        self._thread.start()

    def _run(self):
        from host.commands.demo import pick_handheld
        from host.sim.hunt import simulate

        try:
            simulate(self.world, self.seed, self.session_path,
                     handheld=pick_handheld(self.handheld),
                     speed=self.speed, on_record=self.records.put, hunt_ready=self._ready)
        except Exception as exc:  # the hunt's own failures end up in the message bar
            self.last_error = f"the simulated hunt stopped: {exc}"
        else:
            self.last_error = "the simulated hunt has ended"

    def _ready(self, hunt):
        self._hunt = hunt

    def stop(self):
        if self._hunt is not None:
            self._hunt.stop()

    def send(self, msg_type, fields=(), tail=b""):
        raise ConnectionError("the simulated hunt drives its handheld itself")

    def stats(self):
        link = None if self._hunt is None else self._hunt.link
        stats = dict(link.stats()) if link is not None else {"frames": 0, "crc_errors": 0}
        stats["connected"] = self.last_error is None and link is not None
        return stats
