"""Progress of a simulated hunt on the terminal, and its answer in degrees."""

import io
import json
import math
import re
import subprocess
import sys

from host.sim.world import load_world

#: Spherical metres per degree of latitude (R = 6371 km); good to 0.5 % against WGS84.
M_PER_DEG = 6_371_000.0 * math.pi / 180.0


def near_degrees(point, origin, tol_m):
    lat0, lon0 = origin[:2]
    dn = (point["lat_deg"] - lat0) * M_PER_DEG
    de = (point["lon_deg"] - lon0) * M_PER_DEG * math.cos(math.radians(lat0))
    return math.hypot(de - point["x_m"], dn - point["y_m"]) < tol_m


def test_simulate_json_gives_degrees_with_the_metres(tmp_path):
    run = subprocess.run([sys.executable, "-m", "host.cli", "simulate", "--world", "corner",
                          "--handheld", "model", "--speed", "60", "--json",
                          "--out", str(tmp_path / "s.sqlite")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)  # stdout is one JSON object: progress went to stderr
    origin = load_world("corner").origin
    for key in ("truth", "estimate"):
        point = result[key]
        # a point 30 m from the origin: 0.5 % of the spherical model is 0.15 m
        assert near_degrees(point, origin, 0.5), point
        assert point["lat_deg"] == round(point["lat_deg"], 7)


def test_status_lines_follow_the_hunt(tmp_path):
    from host.sim.hunt import simulate
    from host.sim.progress import HuntProgress

    out = io.StringIO()
    with HuntProgress(out, interval_s=0.5, bar=False) as progress:
        result, _ = simulate(load_world("corner"), 1, tmp_path / "s.sqlite", handheld="model",
                             speed=25.0, hunt_ready=progress.attach)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 4
    rows = [re.match(r"hunt: +(\d+) s simulated, +(\d+) frames, best: (.*)$", line)
            for line in lines]
    assert all(rows), lines
    sim_s = [int(r.group(1)) for r in rows]
    frames = [int(r.group(2)) for r in rows]
    assert sim_s == sorted(sim_s) and sim_s[-1] > sim_s[0]
    assert frames == sorted(frames) and frames[-1] > 0
    assert sim_s[-1] <= result["sim_time_s"] + 1
    # once the locator has spoken, the line names the building it names
    assert rows[-1].group(3).startswith("building %s" % result["estimate"]["building"])


def test_bar_on_a_terminal(tmp_path):
    from host.sim.hunt import simulate
    from host.sim.progress import HuntProgress

    out = io.StringIO()
    with HuntProgress(out, bar=True) as progress:
        simulate(load_world("corner"), 1, tmp_path / "s.sqlite", handheld="model", speed=60.0,
                 hunt_ready=progress.attach)
    text = out.getvalue()
    assert "\r" in text  # redrawn in place
    assert re.search(r"hunt: \d+ sim s \[.*\], \d+ frames, best: building ", text)
