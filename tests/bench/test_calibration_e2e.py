"""The whole calibration on the simulated bench: pyvisa-sim generator, cable, and the real
firmware in the MicroPython unix port with a fake AD9363 of known true response.

One bench session (the handheld boots once): an interrupted sweep, its resume, the fit
against the true response, the calibration upload and the verification."""

import numpy as np
import pytest

from host.bench import calfile, simbench, sweep, verify
from host.bench.handheld import HandheldError

BANDS = [("900", 880.0e6, 960.0e6), ("1800", 1700.0e6, 1880.0e6)]
LEVELS = np.arange(-120.0, -19.0, 2.5)
CABLE_LOSS_DB = 10.0


class Interrupt(KeyboardInterrupt):
    """Ctrl-C at a known point of the sweep."""


def test_interrupted_sweep_resumes_and_the_fit_recovers_the_true_response(tmp_path):
    points = sweep.plan_points(BANDS, LEVELS, freqs_per_band=1, seed=0)
    path = tmp_path / "results.jsonl"
    with simbench.calibration_bench(CABLE_LOSS_DB) as (gen, handheld, virtual):
        header = {"kind": "calibration", "device_id": handheld.device_id,
                  "cable_loss_db": CABLE_LOSS_DB, "generator": gen.identity()}

        def ctrl_c_after_12(result):
            if len(results.done_keys()) == 12:
                raise Interrupt

        results = sweep.ResultsFile(path, header)
        with pytest.raises(Interrupt):
            sweep.run_sweep(gen, handheld, points, results, cable_loss_db=CABLE_LOSS_DB,
                            on_point=ctrl_c_after_12)
        assert gen.state().output_on is False
        assert len(sweep.ResultsFile(path, header).done_keys()) == 12

        measured = []
        results = sweep.ResultsFile(path, header)
        stats = sweep.run_sweep(gen, handheld, points, results, cable_loss_db=CABLE_LOSS_DB,
                                on_point=lambda r: measured.append((r["freq_hz"], r["input_dbm"])))
        assert stats == {"measured": len(points) - 12, "skipped": 12}
        assert gen.state().output_on is False
        keys = [p.key for p in points]
        done = [(round(f), round(level * 100)) for f, level in measured]
        assert sorted(done) == sorted(keys[12:])                # nothing redone, nothing missed

        fitted = calfile.fit_bands(results.measured_points(), BANDS)
        true = simbench.true_band_response()
        for band, resp, props in fitted:
            # tolerances: 4x the fit's 1-sigma on these sweeps (about 0.06 dB offset,
            # 0.001 slope, 0.05 dB knee and floor, 0.003 dB/degC) plus the 0.88 degC
            # step of the AD9363 temperature read-back that biases tc low
            assert resp.offset_db == pytest.approx(true.offset_db, abs=0.3), band["name"]
            assert resp.slope == pytest.approx(true.slope, abs=0.006)
            assert resp.knee_dbm == pytest.approx(true.knee_dbm, abs=0.3)
            assert resp.noise_floor_dbm == pytest.approx(true.noise_floor_dbm, abs=0.3)
            assert resp.temp_coeff_db_per_c == pytest.approx(true.temp_coeff_db_per_c, abs=0.008)
            assert props["rms_linear_db"] < 0.5
            assert band["n_points"] == LEVELS.size

        doc = calfile.build(handheld.device_id, fitted, instruments={"generator": gen.identity()})
        calfile.save(doc, tmp_path / "cal.json")
        doc = calfile.load(tmp_path / "cal.json")
        assert handheld.device.upload_calibration(doc)["kind"] == "ACK"
        rows = verify.verify(gen, handheld, doc, cable_loss_db=CABLE_LOSS_DB, tolerance_db=0.5)
        assert rows and all(row["passed"] for row in rows), rows
        assert gen.state().output_on is False

        # the handheld dies mid-sweep: the error names it, the output goes off
        virtual.stop()
        with pytest.raises(HandheldError, match="did not answer BENCH mode"):
            sweep.run_sweep(gen, handheld, points, sweep.ResultsFile(tmp_path / "b.jsonl", header),
                            cable_loss_db=CABLE_LOSS_DB)
        assert gen.state().output_on is False
