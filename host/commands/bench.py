"""`rfhound bench`: calibrate a handheld's power readings, measure its antenna pattern,
verify a calibration and upload it (docs/bench.md has the technician's procedure)."""

NAME = "bench"
HELP = "lab bench: power calibration (SCPI generator), antenna pattern (rotctld), verify, upload"

# The AD9363's tuning range (datasheet: 325 MHz to 3.8 GHz): bands beyond it are skipped.
_RADIO_LO_HZ = 325e6
_RADIO_HI_HZ = 3.8e9
_SIM_CABLE_LOSS_DB = 10.0
_SIM_BANDS = "900,1800,2100"


def add_arguments(parser):
    import argparse

    sub = parser.add_subparsers(dest="bench_command", metavar="STEP", required=True)

    def common(p):
        p.add_argument("--port", default="/dev/ttyACM0",
                       help="handheld serial port or pyserial URL (default /dev/ttyACM0)")
        p.add_argument("--simulated", action="store_true",
                       help="use the simulated instruments and the virtual handheld")
        p.add_argument("--runtime", choices=("micropython", "cpython"), default="micropython",
                       help=argparse.SUPPRESS)
        p.add_argument("--readings", type=int, default=8, metavar="N",
                       help="bench readings averaged per point (default 8)")
        p.add_argument("--gain-db", type=int, default=None,
                       help="receive gain in BENCH mode (default: the firmware's hunt gain)")

    def generator(p):
        p.add_argument("--generator", metavar="VISA",
                       help="signal generator VISA address, e.g. TCPIP::192.168.1.20::inst0::INSTR")
        p.add_argument("--cable-loss-db", type=float, default=None,
                       help="loss of cable and attenuators from generator to handheld (dB)")

    p = sub.add_parser("calibrate", help="sweep levels per band and fit the response")
    common(p)
    generator(p)
    p.add_argument("--cable-loss-uncertainty-db", type=float, default=0.1,
                   help="1-sigma uncertainty of the cable loss (default 0.1 dB)")
    p.add_argument("--generator-uncertainty-db", type=float, default=1.0,
                   help="generator level accuracy bound from its data sheet (default 1.0 dB)")
    p.add_argument("--bands", default=None,
                   help="calibration bands, comma-separated (default: all the radio tunes; "
                        f"--simulated: {_SIM_BANDS})")
    p.add_argument("--levels", default="-120:-20:2", metavar="FROM:TO:STEP",
                   help="levels at the handheld's RF port in dBm, written "
                        "--levels=FROM:TO:STEP (default -120:-20:2)")
    p.add_argument("--freqs-per-band", type=int, default=None,
                   help="frequencies per band (default 3; --simulated: 1)")
    p.add_argument("--results", default=None, metavar="JSONL",
                   help="results file; an existing one is resumed (default bench-<device>.jsonl)")
    p.add_argument("--out", default=None, metavar="JSON",
                   help="calibration file to write (default calibration-<device>-<date>.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random level order")
    p.add_argument("--plot", default=None, metavar="SVG",
                   help="also draw readings, fit and residuals per band into this SVG file")

    p = sub.add_parser("pattern", help="measure the antenna pattern on a rotctld turntable")
    common(p)
    p.add_argument("--rotctld", default="127.0.0.1:4533", metavar="HOST:PORT",
                   help="rotctld address (default 127.0.0.1:4533; --simulated starts rotctld -m 1)")
    p.add_argument("--freq-hz", type=float, default=1747.5e6, help="source frequency (Hz)")
    p.add_argument("--isotropic-dbm", type=float, default=None,
                   help="power an isotropic antenna receives at the turntable (dBm)")
    p.add_argument("--reference-dbm", type=float, default=None,
                   help="power measured with the reference antenna (gain substitution)")
    p.add_argument("--reference-gain-dbi", type=float, default=None,
                   help="gain of the reference antenna (dBi)")
    p.add_argument("--step-deg", type=float, default=10.0, help="turntable step (default 10)")
    p.add_argument("--symmetric", action="store_true",
                   help="measure 0-180 deg only and mirror (antenna symmetric about boresight)")
    p.add_argument("--source-azimuth-deg", type=float, default=0.0,
                   help="turntable azimuth at which boresight faces the source (default 0)")
    p.add_argument("--calibration", default=None, metavar="JSON",
                   help="calibration file to convert readings on the host "
                        "(default: the handheld's own)")
    p.add_argument("--results", default=None, metavar="JSONL",
                   help="results file; an existing one is resumed "
                        "(default pattern-<device>-<MHz>.jsonl)")
    p.add_argument("--out", required=True, metavar="CSV",
                   help="pattern file, e.g. hardware/antennas/<id>.csv (merged per frequency)")
    p.add_argument("--plot", default=None, metavar="SVG",
                   help="also draw the measured and fitted pattern (polar) into this SVG file")

    p = sub.add_parser("verify", help="check a calibrated handheld at spot levels")
    common(p)
    generator(p)
    p.add_argument("--calibration", required=True, metavar="JSON",
                   help="the calibration in force on the handheld (--simulated uploads it first)")
    p.add_argument("--levels", default=None, metavar="L1,L2,...",
                   help="spot levels in dBm (default: every 10 dB inside each band's linear range)")
    p.add_argument("--tolerance-db", type=float, default=1.0,
                   help="largest error that passes (default 1.0 dB)")

    p = sub.add_parser("upload", help="send a calibration file to the handheld (SET_CALIBRATION)")
    p.add_argument("--port", default="/dev/ttyACM0", help="handheld serial port or pyserial URL")
    p.add_argument("--calibration", required=True, metavar="JSON", help="calibration file")
    p.add_argument("--force", action="store_true",
                   help="upload even if the file was made for another device id")


def run(args):
    import signal

    from host.errors import UserError

    # SIGTERM (a closed terminal, a service stop) unwinds like Ctrl-C, so the
    # generator's output is switched off by the same finally blocks.
    def _terminate(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _STEPS[args.bench_command](args)
    except _instrument_errors() as exc:
        raise UserError(str(exc)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _instrument_errors():
    from host.bench.calfile import CalibrationFileError
    from host.bench.generator import InstrumentError
    from host.bench.handheld import HandheldError
    from host.bench.rotator import RotatorError
    from host.bench.sweep import ResumeError
    return (InstrumentError, HandheldError, RotatorError, ResumeError, CalibrationFileError)


# -- argument helpers -----------------------------------------------------------------
def _levels(text):
    import numpy as np

    from host.errors import UserError
    try:
        start, stop, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise UserError(
            f"--levels {text!r}: expected FROM:TO:STEP in dBm, e.g. --levels=-120:-20:2") from None
    if step <= 0 or stop < start:
        raise UserError(f"--levels {text!r}: need FROM <= TO and STEP > 0")
    levels = np.arange(start, stop + step / 2, step)
    if levels.size < 6:
        raise UserError(f"--levels {text!r}: {levels.size} levels; the fit needs at least 6")
    return levels


def _bands(text, simulated):
    from dsp.bands import CALIBRATION_BANDS
    from host.errors import UserError

    usable = [b for b in CALIBRATION_BANDS if b[1] >= _RADIO_LO_HZ and b[2] <= _RADIO_HI_HZ]
    if text is None:
        text = _SIM_BANDS if simulated else ",".join(b[0] for b in usable)
    by_name = {b[0]: b for b in usable}
    out = []
    for name in (x.strip() for x in text.split(",") if x.strip()):
        if name not in by_name:
            raise UserError(f"--bands: unknown band {name!r}; choose from {', '.join(by_name)}")
        out.append(by_name[name])
    if not out:
        raise UserError("--bands: no band given")
    return out


def _cable_loss(args):
    from host.errors import UserError
    if args.cable_loss_db is None:
        if args.simulated:
            return _SIM_CABLE_LOSS_DB
        raise UserError("--cable-loss-db is required: measure the cable and attenuators "
                        "(e.g. with the generator and a power meter) and enter the loss in dB")
    if not 0.0 <= args.cable_loss_db <= 100.0:
        raise UserError(f"--cable-loss-db {args.cable_loss_db}: expected 0..100 dB")
    return args.cable_loss_db


def _progress(total, initial):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="pt", dynamic_ncols=True)


# -- benches (real or simulated) ------------------------------------------------------
class _RealBench:
    """Generator over pyvisa and the handheld on its serial port; closed on exit."""

    def __init__(self, args, need_generator=True):
        self.args = args
        self.need_generator = need_generator
        self.generator = self.link = None

    def __enter__(self):
        from host.bench.generator import open_generator
        from host.bench.handheld import BenchHandheld
        from host.errors import UserError
        from host.link import Link
        from host.virtual.device import DeviceClient

        if self.need_generator:
            if not self.args.generator:
                raise UserError("--generator VISA address is required (or use --simulated)")
            self.generator = open_generator(self.args.generator)
        try:
            self.link = Link(self.args.port).start()
            if not self.link.wait_connected(5.0):
                raise UserError(f"cannot open the handheld's port {self.args.port}: "
                                f"{self.link.last_error}; check --port and the USB cable")
            handheld = BenchHandheld(DeviceClient(self.link))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.generator, handheld, None

    def __exit__(self, *exc):
        if self.link is not None:
            self.link.stop()
        if self.generator is not None:
            self.generator.close()


def _calibration_bench(args):
    if args.simulated:
        from host.bench import simbench
        return simbench.calibration_bench(_SIM_CABLE_LOSS_DB, runtime=args.runtime)
    return _RealBench(args)


# -- calibrate ---------------------------------------------------------------------------
def _calibrate(args):
    import datetime

    from host.bench import calfile, sweep

    cable_loss_db = _cable_loss(args)
    levels = _levels(args.levels)
    bands = _bands(args.bands, args.simulated)
    per_band = args.freqs_per_band or (1 if args.simulated else 3)
    points = sweep.plan_points(bands, levels, freqs_per_band=per_band, seed=args.seed)
    with _calibration_bench(args) as (generator, handheld, virtual):
        device = "unknown" if handheld.device_id is None else f"{handheld.device_id:08x}"
        results = sweep.ResultsFile(args.results or f"bench-{device}.jsonl", {
            "kind": "calibration", "device_id": handheld.device_id,
            "cable_loss_db": cable_loss_db, "generator": generator.identity(),
        })
        print(f"handheld {handheld.name} firmware {handheld.fw_version}; "
              f"generator {generator.identity()}; cable loss {cable_loss_db:g} dB")
        print(f"{len(points)} points in {len(bands)} band(s); results in {results.path}")
        try:
            stats = sweep.run_sweep(generator, handheld, points, results,
                                    cable_loss_db=cable_loss_db, gain_db=args.gain_db,
                                    n_readings=args.readings, progress=_progress)
        except KeyboardInterrupt:
            _report_interrupt(generator, results)
            raise
        if stats["skipped"]:
            print(f"resumed: {stats['skipped']} points already in {results.path}, "
                  f"{stats['measured']} measured now")
        handheld.idle()
        measured = results.measured_points()
        fitted = calfile.fit_bands(measured, bands,
                                   generator_uncertainty_db=args.generator_uncertainty_db,
                                   cable_uncertainty_db=args.cable_loss_uncertainty_db)
        doc = calfile.build(handheld.device_id, fitted, instruments={
            "generator": generator.identity(),
            "handheld_firmware": handheld.fw_version,
            "cable_loss_db": cable_loss_db,
            "cable_loss_uncertainty_db": args.cable_loss_uncertainty_db,
            "generator_uncertainty_db": args.generator_uncertainty_db,
            "results_file": results.path,
        })
        gain_db = fitted[0][0]["gain_db"] if fitted else None
    out = args.out or "calibration-{}-{}.json".format(
        device, datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d"))
    calfile.save(doc, out)
    if args.plot:
        from host.bench import figures
        _write_text(args.plot, figures.calibration_svg(
            measured, fitted, title=f"Power calibration, handheld {handheld.name}"))
    _print_fit(fitted, simulated=args.simulated, gain_db=gain_db)
    print(f"calibration {doc['calibration_id']} written to {out}; "
          f"send it with: rfhound bench upload --calibration {out}")
    return 0 if all(b["residual_rms_db"] < 0.5 for b, _, _ in fitted) else 1


def _write_text(path, text):
    from host.errors import UserError
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


def _report_interrupt(generator, results):
    """Tell the technician, from the instrument itself, that the RF is off."""
    import sys
    try:
        output = "off" if not generator.state().output_on else "STILL ON: switch it off by hand"
    except Exception as exc:  # the instrument may be the reason we stopped
        output = f"unknown ({exc}): check the generator"
    print(f"stopped after {len(results.done_keys())} points; RF output {output}; "
          f"points are kept in {results.path}: run the same command to resume", file=sys.stderr)


def _print_fit(fitted, *, simulated, gain_db):
    true = None
    if simulated:
        from host.bench import simbench
        true = simbench.true_band_response(gain_db if gain_db is not None
                                           else simbench.FIRMWARE_DEFAULT_GAIN_DB)
    names = ("offset_db", "slope", "knee_dbm", "smoothness", "noise_floor_dbm",
             "temp_coeff_db_per_c")
    for band, resp, props in fitted:
        t_range = band["temperature_range_c"]
        t_text = "" if t_range is None else f", {t_range[0]:.1f}-{t_range[1]:.1f} degC"
        freqs = ", ".join(f"{f / 1e6:.1f}" for f in band["freqs_hz"])
        print(f"\nband {band['name']} ({freqs} MHz), "
              f"{band['n_points']} points, gain {band['gain_db']} dB{t_text}")
        head = f"  {'coefficient':<22}{'fitted':>10}{'1-sigma':>10}"
        print(head + (f"{'true':>10}{'error':>10}" if true else ""))
        for n in names:
            value = getattr(resp, n)
            sigma = band["sigma"][n]
            line = f"  {n:<22}{value:>10.3f}{'-' if sigma is None else f'{sigma:.3f}':>10}"
            if true:
                line += f"{getattr(true, n):>10.3f}{value - getattr(true, n):>+10.3f}"
            print(line)
        lo, hi = band["linear_range_dbm"]
        verdict = "OK" if band["residual_rms_db"] < 0.5 else "ABOVE TARGET"
        print(f"  p1dB {band['p1db_dbm']:.1f} dBm; linear range {lo:.1f} .. {hi:.1f} dBm; "
              f"residual RMS there {band['residual_rms_db']:.3f} dB (target < 0.5: {verdict}); "
              f"uncertainty {band['uncertainty_db']:.2f} dB (1 sigma)")
        if not band["knee_observed"]:
            print("  compression not reached: knee pinned above the sweep; extend --levels upward")
        if not band["floor_observed"]:
            print("  noise floor not reached: floor pinned below the sweep; "
                  "extend --levels downward")
        if not band["temp_coeff_fitted"]:
            print("  temperature span < 3 degC: no temperature coefficient (0 written)")


# -- upload -------------------------------------------------------------------------------
def _upload_doc(device, handheld, doc, *, force, path):
    from host.errors import UserError

    made_for, connected = doc.get("device_id"), handheld.device_id
    if made_for is not None and connected is not None and made_for != connected and not force:
        raise UserError(f"{path} was made for device {made_for:#010x}, the handheld is "
                        f"{connected:#010x}; use the right file or --force")
    if made_for is not None and connected is None and not force:
        raise UserError(f"{path} was made for device {made_for:#010x}; the handheld "
                        f"{handheld.name} cannot be checked: replug it (it announces its id "
                        "at boot) or use --force")
    rec = device.upload_calibration(doc)
    if rec["kind"] == "NAK":
        raise UserError(f"handheld {handheld.name} refused {path}: {rec['reason_text']}")


def _upload(args):
    from host.bench import calfile
    from host.bench.handheld import BenchHandheld
    from host.errors import UserError
    from host.link import Link
    from host.virtual.device import DeviceClient

    doc = calfile.load(args.calibration)
    link = Link(args.port).start()
    try:
        if not link.wait_connected(5.0):
            raise UserError(f"cannot open the handheld's port {args.port}: {link.last_error}; "
                            "check --port and the USB cable")
        device = DeviceClient(link)
        handheld = BenchHandheld(device)
        _upload_doc(device, handheld, doc, force=args.force, path=args.calibration)
    finally:
        link.stop()
    print(f"calibration {doc['calibration_id']} ({len(doc['entries'])} bands) loaded in handheld "
          f"{handheld.name}")
    return 0


# -- verify -------------------------------------------------------------------------------
def _verify(args):
    from host.bench import calfile, verify
    from host.errors import UserError

    doc = calfile.load(args.calibration)
    cable_loss_db = _cable_loss(args)
    levels = None
    if args.levels:
        try:
            levels = [float(x) for x in args.levels.split(",")]
        except ValueError:
            raise UserError(
                f"--levels {args.levels!r}: expected dBm values like -90,-70,-50") from None
    with _calibration_bench(args) as (generator, handheld, virtual):
        if args.simulated:
            _upload_doc(handheld.device, handheld, doc, force=True, path=args.calibration)
        elif handheld.calibration_id != doc["calibration_id"]:
            print(f"note: the handheld booted with calibration {handheld.calibration_id}, "
                  f"the file is {doc['calibration_id']} (fine if it was uploaded since)")
        rows = verify.verify(generator, handheld, doc, cable_loss_db=cable_loss_db,
                             levels_dbm=levels, tolerance_db=args.tolerance_db,
                             n_readings=args.readings, gain_db=args.gain_db)
        handheld.idle()
    print(f"{'band':>6}{'MHz':>10}{'set dBm':>10}{'read dBm':>10}{'error':>8}  result")
    for row in rows:
        read = "-" if row["measured_dbm"] is None else f"{row['measured_dbm']:.2f}"
        err = "-" if row["error_db"] is None else f"{row['error_db']:+.2f}"
        print(f"{row['band']:>6}{row['freq_hz'] / 1e6:>10.1f}{row['input_dbm']:>10.1f}{read:>10}"
              f"{err:>8}  {'PASS' if row['passed'] else 'FAIL'}")
    failed = sum(not row["passed"] for row in rows)
    print(f"{len(rows) - failed} of {len(rows)} points within +/-{args.tolerance_db:g} dB")
    return 0 if failed == 0 else 1


# -- pattern ------------------------------------------------------------------------------
def _pattern(args):
    import contextlib

    from host.bench import calfile, pattern, sweep
    from host.errors import UserError

    if args.isotropic_dbm is not None:
        isotropic_dbm = args.isotropic_dbm
    elif args.reference_dbm is not None and args.reference_gain_dbi is not None:
        isotropic_dbm = args.reference_dbm - args.reference_gain_dbi
    elif args.simulated:
        isotropic_dbm = -50.0
    else:
        raise UserError("give --isotropic-dbm, or --reference-dbm and --reference-gain-dbi "
                        "(the reference antenna measured at the turntable)")
    if not 0.5 <= args.step_deg <= 90.0:
        raise UserError(f"--step-deg {args.step_deg}: expected 0.5..90")
    span = 180.0 if args.symmetric else 360.0
    azimuths = pattern.azimuth_plan(args.step_deg, span, args.source_azimuth_deg)
    calibration = None
    if args.calibration:
        calibration = _band_for(calfile.load(args.calibration), args.freq_hz, args.calibration)

    with contextlib.ExitStack() as stack:
        if args.simulated:
            from dsp.antenna import load_pattern
            from host.bench import simbench
            true = load_pattern("lpda-700-2700", freq_hz=args.freq_hz)
            rotator, handheld, _ = stack.enter_context(simbench.turntable_bench(
                true.gain, isotropic_dbm, runtime=args.runtime))
            if calibration is None:
                calibration = simbench.true_band_response()
        else:
            rotator, handheld = _real_turntable(args, stack)
        print(f"{len(azimuths)} azimuths every {args.step_deg:g} deg at "
              f"{args.freq_hz / 1e6:.1f} MHz "
              f"via rotctld at {rotator.address}")
        device = "unknown" if handheld.device_id is None else f"{handheld.device_id:08x}"
        results = sweep.ResultsFile(
            args.results or f"pattern-{device}-{args.freq_hz / 1e6:.1f}.jsonl",
            {"kind": "pattern", "device_id": handheld.device_id, "freq_hz": args.freq_hz,
             "isotropic_dbm": isotropic_dbm, "source_azimuth_deg": args.source_azimuth_deg})
        print(f"results in {results.path}")
        measured = pattern.measure_pattern(
            rotator, handheld, azimuths, freq_hz=args.freq_hz, isotropic_dbm=isotropic_dbm,
            gain_db=args.gain_db, calibration=calibration,
            source_azimuth_deg=args.source_azimuth_deg, n_readings=args.readings,
            results=results, progress=_progress)
        handheld.idle()
    angles, gains, props = pattern.fit_pattern([m["angle_deg"] for m in measured],
                                               [m["gain_dbi"] for m in measured],
                                               symmetric=args.symmetric)
    pattern.save_pattern(args.out, args.freq_hz, angles, gains)
    if args.plot:
        from host.bench import figures
        _write_text(args.plot, figures.pattern_svg(
            angles, gains, measured, true.gain(angles) if args.simulated else None,
            title=f"Antenna pattern at {args.freq_hz / 1e6:.1f} MHz"))
    print(f"fit order {props['order']}, residual RMS {props['rms_db']:.2f} dB; peak "
          f"{props['peak_gain_dbi']:.2f} dBi at {props['peak_angle_deg']:g} deg; "
          f"back (180 deg) {gains[int(round(180 / (angles[1] - angles[0])))]:.2f} dBi")
    if args.simulated:
        import numpy as np
        err = gains - true.gain(angles)
        print(f"against the true pattern: max error {np.abs(err).max():.2f} dB, "
              f"RMS {np.sqrt(np.mean(err ** 2)):.2f} dB")
    print(f"pattern written to {args.out}")
    return 0


def _band_for(doc, freq_hz, path):
    from host.bench import calfile
    from host.errors import UserError
    for band in doc.get("bands") or []:
        if band["lo_hz"] <= freq_hz <= band["hi_hz"]:
            return calfile.band_response(band)
    raise UserError(f"{path} has no band covering {freq_hz / 1e6:.1f} MHz; calibrate it first")


def _real_turntable(args, stack):
    from host.bench.handheld import BenchHandheld
    from host.bench.rotator import Rotctld
    from host.errors import UserError
    from host.link import Link
    from host.virtual.device import DeviceClient

    host, _, port = args.rotctld.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--rotctld {args.rotctld!r}: expected HOST:PORT, e.g. 127.0.0.1:4533")
    rotator = Rotctld(host, int(port))
    stack.callback(rotator.close)
    link = Link(args.port).start()
    stack.callback(link.stop)
    if not link.wait_connected(5.0):
        raise UserError(f"cannot open the handheld's port {args.port}: {link.last_error}; "
                        "check --port and the USB cable")
    return rotator, BenchHandheld(DeviceClient(link))


_STEPS = {"calibrate": _calibrate, "upload": _upload, "verify": _verify, "pattern": _pattern}
