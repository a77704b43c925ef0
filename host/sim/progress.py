"""Progress of a simulated hunt on the terminal while it runs.

``rfhound demo --headless`` and ``rfhound simulate`` run for tens of seconds;
without a word the operator cannot tell a slow hunt from a stuck one.  Every
few seconds a status line gives the simulated time, the link frames decoded
and the current best building and floor; with a terminal attached it is a
tqdm bar updated in place instead.  It goes to stderr, so ``--json`` output on
stdout stays one JSON object.
"""

import sys
import threading
import time

#: Seconds between two status lines (a bar is redrawn every second).
LINE_INTERVAL_S = 5.0


def hunt_status(hunt):
    """``(sim_s, frames, answer)``: the hunt's simulated time, link frames decoded and
    ``"building B3 (p=0.82), floor 2"`` (or ``"no estimate yet"``)."""
    sim_s = hunt.clock.now_s()
    link = hunt.link
    frames = int(link.stats().get("frames", 0)) if link is not None else 0
    est = hunt.estimate
    if est is None:
        return sim_s, frames, "no estimate yet"
    building = hunt.likely_building(est)
    if building is None:
        answer = "at (%.0f, %.0f) m" % (est.x_m, est.y_m)
    else:
        prob = hunt.building_prob(est, building.id)
        answer = "building %s" % building.id + ("" if prob is None else " (p=%.2f)" % prob)
    if est.floor is not None:
        answer += ", floor %d" % est.floor
    return sim_s, frames, answer


def status_line(hunt):
    sim_s, frames, answer = hunt_status(hunt)
    return "hunt: %5.0f s simulated, %6d frames, best: %s" % (sim_s, frames, answer)


class HuntProgress:
    """Report a running hunt's progress from a background thread.

    Use as a context manager around the hunt and pass `attach` as the hunt's
    ``hunt_ready`` callback (`host.sim.hunt.simulate`).

    Parameters
    ----------
    stream : file
        Where to write (default stderr).
    interval_s : float
        Seconds between status lines when ``stream`` is not a terminal.
    bar : bool or None
        Force the tqdm bar on or off; by default on when ``stream`` is a terminal.
    """

    def __init__(self, stream=None, interval_s=LINE_INTERVAL_S, bar=None):
        self.stream = sys.stderr if stream is None else stream
        self.interval_s = float(interval_s)
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.bar = bool(isatty()) if bar is None else bool(bar)
        self.hunt = None
        self.lines = 0
        self._stop = threading.Event()
        self._thread = None

    def attach(self, hunt):
        """The ``hunt_ready`` callback: start reporting on ``hunt``."""
        self.hunt = hunt

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, name="rfhound-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def _run(self):
        if self.bar:
            self._run_bar()
            return
        while not self._stop.wait(self.interval_s):
            if self.hunt is not None:
                self._say(status_line(self.hunt))

    def _say(self, text):
        try:
            print(text, file=self.stream, flush=True)
        except (OSError, ValueError):  # a closed pipe: progress is a courtesy
            self._stop.set()
        self.lines += 1

    def _run_bar(self):
        from tqdm import tqdm

        with tqdm(file=self.stream, unit=" sim s", dynamic_ncols=True, leave=True,
                  bar_format="{desc}{n:.0f}{unit} [{elapsed}, {rate_fmt}]{postfix}") as bar:
            bar.set_description("hunt")
            shown = 0.0
            while not self._stop.wait(1.0):
                if self.hunt is None:
                    continue
                sim_s, frames, answer = hunt_status(self.hunt)
                bar.update(max(sim_s - shown, 0.0))
                shown = max(sim_s, shown)
                bar.set_postfix_str("%d frames, best: %s" % (frames, answer))
                self.lines += 1
