"""rfhound measure: calibrated uplink channel power over time from IQ."""


from host.errors import UserError

NAME = "measure"
HELP = "print a channel's uplink power over time from a SigMF recording or a live SoapySDR radio"

# Bins no wider than an LTE subcarrier, so PRB edges and 200 kHz GSM channels
# are resolved.
_MAX_BIN_HZ = 15e3


def add_arguments(parser):
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--sigmf", metavar="REC", help="SigMF recording (.sigmf-meta or .sigmf-data)")
    src.add_argument("--source", metavar="SPEC",
                     help="live receiver, e.g. soapy:driver=rtlsdr (needs python3-soapysdr)")
    parser.add_argument("--rat", required=True, choices=("gsm", "lte", "nr"))
    parser.add_argument("--channel", required=True, type=int,
                        help="ARFCN / EARFCN / NR-ARFCN (uplink or downlink; uplink is measured)")
    parser.add_argument("--band", help="3GPP band when the channel number alone is ambiguous")
    parser.add_argument("--bandwidth-mhz", type=float,
                        help="channel bandwidth (LTE default 20; required for NR)")
    parser.add_argument("--prbs", help="LTE PRB range to measure, e.g. 0-5 (default: whole channel)")
    parser.add_argument("--interval-ms", type=float, default=100.0,
                        help="averaging interval per printed line (default 100)")
    parser.add_argument("--calibration", metavar="JSON",
                        help="calibration file (rfhound bench output, hardware/calibration/"
                             "default.json, or per-band offset_db/slope); without it: dBFS")
    parser.add_argument("--gain-db", type=float,
                        help="receiver gain (live: set on the radio; SigMF: overrides the recording)")
    parser.add_argument("--temp-c", type=float, help="receiver temperature for the calibration")
    parser.add_argument("--rate", type=float, default=30.72e6,
                        help="live sample rate in samples/s (default 30.72e6)")
    parser.add_argument("--seconds", type=float, default=10.0, help="live: how long to measure")


def _prbs(text):
    if text is None:
        return None
    try:
        lo, _, hi = text.partition("-")
        lo = int(lo)
        hi = int(hi) if hi else lo
    except ValueError:
        raise UserError(f"--prbs {text!r}: expected a PRB or a range like 0-5") from None
    if hi < lo:
        raise UserError(f"--prbs {text!r}: the range runs backwards")
    return list(range(lo, hi + 1))


def _nfft(fs):
    nfft = 256
    while fs / nfft > _MAX_BIN_HZ:
        nfft *= 2
    return nfft


def _load_calibration(path):
    from host import jsonfile
    return jsonfile.load(path, what="the calibration file", max_bytes=1 << 20)


def run(args):
    import numpy as np

    from dsp import bands, power, sources

    try:
        freq_hz = bands.uplink_hz(args.rat, args.channel, args.band)
        bandwidth_hz = args.bandwidth_mhz * 1e6 if args.bandwidth_mhz else None
        channel = power.channel_band_hz(args.rat, bandwidth_hz, _prbs(args.prbs))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    calibration = _load_calibration(args.calibration) if args.calibration else None
    if args.interval_ms <= 0:
        raise UserError("--interval-ms must be positive")

    live = None
    try:
        if args.sigmf:
            meta = sources.meta_path(args.sigmf)
            if meta.exists():
                # The SigMF library parses it again; this read refuses a hostile file first.
                from host import jsonfile
                jsonfile.load(meta, what="the SigMF metadata", max_bytes=16 << 20)
            info = sources.sigmf_info(args.sigmf)
            fs, center_hz = info["fs"], info["center_hz"]
            gain_db = args.gain_db if args.gain_db is not None else info["gain_db"]
            chunks = sources.iter_sigmf(args.sigmf)
            origin = args.sigmf
        else:
            if args.gain_db is None:
                raise UserError("--source needs --gain-db (the receive gain to set)")
            live = sources.SoapySource(args.source, freq_hz, args.rate, args.gain_db)
            fs, center_hz, gain_db = live.fs, live.center_hz, live.gain_db
            block = int(fs * 0.05)
            chunks = (live.read(block) for _ in range(max(1, int(args.seconds / 0.05))))
            origin = args.source
    except sources.SourceError as exc:
        raise UserError(str(exc)) from None

    try:
        offset_hz = freq_hz - center_hz
        band = channel + offset_hz
        if band[0] < -fs / 2 or band[1] > fs / 2:
            raise UserError(
                f"{args.rat} channel {args.channel} ({freq_hz / 1e6:.3f} MHz uplink) is outside "
                f"{origin} ({center_hz / 1e6:.3f} MHz +- {fs / 2e6:.3f} MHz)")
        if calibration is not None and gain_db is None:
            raise UserError(f"{origin} does not record the receiver gain: pass --gain-db")
        nfft = _nfft(fs)
        frames = max(1, int(round(args.interval_ms * 1e-3 * fs / nfft)))
        try:
            meter = power.ChannelPowerMeter(fs, band[None, :], nfft=nfft, frames_per_block=frames)
            if calibration is not None:
                # Fail before measuring when the file lacks this band.
                power.to_dbm(0.0, freq_hz, calibration)
        except ValueError as exc:
            raise UserError(f"{args.calibration or origin}: {exc}") from None
        unit = "power_dbm" if calibration is not None else "power_dbfs"
        print(f"# {args.rat} channel {args.channel}: uplink {freq_hz / 1e6:.3f} MHz, "
              f"{(band[1] - band[0]) / 1e3:.0f} kHz, from {origin}")
        print(f"time_s,{unit}")
        rows = 0
        for chunk in chunks:
            try:
                p = meter.feed(chunk)[:, 0]
            except ValueError as exc:
                raise UserError(f"{origin}: {exc}") from None
            level = power.to_db(p)
            if calibration is not None:
                level = power.to_dbm(level, freq_hz, calibration, gain_db=gain_db, temp_c=args.temp_c)
            for k, value in enumerate(np.atleast_1d(level)):
                t = (meter.blocks_done - len(p) + k) * meter.block_s
                print(f"{t:.3f},{value:.2f}")
                rows += 1
        if rows == 0:
            raise UserError(f"{origin} is shorter than one {args.interval_ms:g} ms interval")
    except sources.SourceError as exc:
        raise UserError(str(exc)) from None
    finally:
        if live is not None:
            live.close()
    return 0
