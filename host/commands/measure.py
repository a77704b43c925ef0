"""rfhound measure: calibrated uplink channel power over time from IQ.

In a TDD band only the uplink of the frame is measured (the band's usual pattern, or
--tdd-config/--special-subframe for LTE, --nr-pattern for NR); the frame timing comes from
the recording's core:datetime (GNSS time: TDD networks are GNSS-synchronised) or, without
one, from the downlink's envelope.  GSM reports burst power: the useful part of the
strongest timeslot, not the average over the TDMA frame's eight.
"""


from host.errors import UserError

NAME = "measure"
HELP = "print a channel's uplink power over time from a SigMF recording or a live SoapySDR radio"

# Bins no wider than an LTE subcarrier, so PRB edges and 200 kHz GSM channels
# are resolved.
_MAX_BIN_HZ = 15e3
# GSM bursts: frames short enough that most of a 543 us burst is whole frames.
_GSM_MAX_BIN_HZ = 30e3


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
    gate = parser.add_argument_group("time gating (TDD uplink, GSM bursts)")
    gate.add_argument("--tdd-config", type=int, metavar="N",
                      help="LTE TDD uplink-downlink configuration 0-6 (TS 36.211 table 4.2-2; "
                           "default: the band's usual one, e.g. 2 on B39/B41)")
    gate.add_argument("--special-subframe", type=int, metavar="N",
                      help="LTE special subframe configuration 0-9 (table 4.2-1; "
                           "default: the band's)")
    gate.add_argument("--nr-pattern", metavar="P,SCS,DS,DSYM,US,USYM",
                      help="NR TDD pattern: period ms, subcarrier spacing kHz, DL slots, "
                           "DL symbols, UL slots, UL symbols (TDD-UL-DL-ConfigCommon), "
                           "e.g. 2.5,30,3,10,1,2")
    gate.add_argument("--tdd-offset-us", type=float, default=0.0,
                      help="network frame timing offset from GNSS time, us (default 0)")
    gate.add_argument("--timing", choices=("auto", "gnss", "envelope"), default="auto",
                      help="TDD frame timing: the recording's core:datetime (gnss), the downlink "
                           "envelope of each interval (envelope), or gnss when the recording "
                           "has a datetime (auto, default)")
    gate.add_argument("--hop-arfcns", metavar="LIST",
                      help="GSM hopping list, e.g. 600,610,620,630: each burst is read on the "
                           "ARFCN the handset was on (the recording must span them all)")
    gate.add_argument("--whole-frames", action="store_true",
                      help="average over whole frames, no TDD/GSM gating (the old measurement)")


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


def _nfft(fs, max_bin_hz=_MAX_BIN_HZ):
    nfft = 256
    while fs / nfft > max_bin_hz:
        nfft *= 2
    return nfft


def _nr_pattern(text):
    try:
        parts = [float(v) for v in text.split(",")]
        if len(parts) != 6:
            raise ValueError
    except ValueError:
        raise UserError(f"--nr-pattern {text!r}: expected six numbers, period_ms,scs_khz,"
                        "dl_slots,dl_symbols,ul_slots,ul_symbols (e.g. 2.5,30,3,10,1,2)") from None
    period, scs = parts[0], int(parts[1])
    counts = parts[2:]
    if any(c != int(c) for c in counts):
        raise UserError(f"--nr-pattern {text!r}: slot and symbol counts must be whole numbers")
    return period, scs, *(int(c) for c in counts)


def _tdd_pattern(args, band_name):
    """The TDD pattern to gate with, or None (FDD, or --whole-frames)."""
    from dsp import tdd

    given = (args.tdd_config is not None or args.special_subframe is not None
             or args.nr_pattern is not None)
    if args.rat != "lte" and (args.tdd_config is not None or args.special_subframe is not None):
        raise UserError("--tdd-config and --special-subframe are LTE options; "
                        "NR takes --nr-pattern")
    if args.rat != "nr" and args.nr_pattern is not None:
        raise UserError("--nr-pattern is an NR option; LTE takes --tdd-config/--special-subframe")
    default = tdd.BAND_DEFAULTS.get(band_name)
    if given and default is None:
        raise UserError(f"{band_name} is an FDD band: TDD options do not apply to "
                        f"{args.rat} channel {args.channel}")
    if args.whole_frames or default is None:
        return None
    try:
        if args.rat == "lte":
            config = args.tdd_config if args.tdd_config is not None else default["config"]
            special = (args.special_subframe if args.special_subframe is not None
                       else default["special"])
            return tdd.lte_pattern(config, special)
        if args.nr_pattern is not None:
            return tdd.nr_pattern(*_nr_pattern(args.nr_pattern))
        return tdd.band_pattern(band_name)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _hops_hz(args, bands):
    import numpy as np

    if args.rat != "gsm":
        raise UserError("--hop-arfcns is a GSM option")
    if args.whole_frames:
        raise UserError("--hop-arfcns reads bursts: it cannot go with --whole-frames")
    try:
        arfcns = [int(v) for v in args.hop_arfcns.split(",")]
    except ValueError:
        raise UserError(f"--hop-arfcns {args.hop_arfcns!r}: expected ARFCNs separated by "
                        "commas, e.g. 600,610,620") from None
    if len(arfcns) < 2 or len(set(arfcns)) != len(arfcns):
        raise UserError(f"--hop-arfcns {args.hop_arfcns!r}: list two or more different ARFCNs")
    try:
        return np.array([bands.uplink_hz("gsm", a, args.band) for a in arfcns])
    except ValueError as exc:
        raise UserError(f"--hop-arfcns: {exc}") from None


def _blocks(chunks, block_len):
    """Consecutive arrays of exactly block_len samples from chunks of any length."""
    import numpy as np

    pending = []
    have = 0
    for chunk in chunks:
        pending.append(chunk)
        have += chunk.size
        if have < block_len:
            continue
        data = np.concatenate(pending) if len(pending) > 1 else pending[0]
        n = (data.size // block_len) * block_len
        for start in range(0, n, block_len):
            yield data[start: start + block_len]
        rest = data[n:].copy()
        pending = [rest] if rest.size else []
        have = rest.size


def _load_calibration(path):
    from host import jsonfile
    return jsonfile.load(path, what="the calibration file", max_bytes=1 << 20)


def run(args):
    import numpy as np

    from dsp import bands, power, sources

    try:
        freq_hz, band_name = bands.uplink_band(args.rat, args.channel, args.band)
        bandwidth_hz = args.bandwidth_mhz * 1e6 if args.bandwidth_mhz else None
        channel = power.channel_band_hz(args.rat, bandwidth_hz, _prbs(args.prbs))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    calibration = _load_calibration(args.calibration) if args.calibration else None
    if args.interval_ms <= 0:
        raise UserError("--interval-ms must be positive")
    pattern = _tdd_pattern(args, band_name)
    burst = args.rat == "gsm" and not args.whole_frames
    hops_hz = _hops_hz(args, bands) if args.hop_arfcns else None

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
            capture_time = info["datetime"]
        else:
            if args.gain_db is None:
                raise UserError("--source needs --gain-db (the receive gain to set)")
            live = sources.SoapySource(args.source, freq_hz, args.rate, args.gain_db)
            fs, center_hz, gain_db = live.fs, live.center_hz, live.gain_db
            block = int(fs * 0.05)
            chunks = (live.read(block) for _ in range(max(1, int(args.seconds / 0.05))))
            origin = args.source
            capture_time = None
    except sources.SourceError as exc:
        raise UserError(str(exc)) from None

    try:
        offset_hz = freq_hz - center_hz
        band = channel + offset_hz
        if band[0] < -fs / 2 or band[1] > fs / 2:
            raise UserError(
                f"{args.rat} channel {args.channel} ({freq_hz / 1e6:.3f} MHz uplink) is outside "
                f"{origin} ({center_hz / 1e6:.3f} MHz +- {fs / 2e6:.3f} MHz)")
        hop_bands = None
        if hops_hz is not None:
            hop_bands = (hops_hz - center_hz)[:, None] + channel[None, :]
            if hop_bands.min() < -fs / 2 or hop_bands.max() > fs / 2:
                raise UserError(f"--hop-arfcns {args.hop_arfcns}: not all inside {origin} "
                                f"({center_hz / 1e6:.3f} MHz +- {fs / 2e6:.3f} MHz)")
        if calibration is not None and gain_db is None:
            raise UserError(f"{origin} does not record the receiver gain: pass --gain-db")
        nfft = _nfft(fs, _GSM_MAX_BIN_HZ if burst else _MAX_BIN_HZ)
        frames = max(1, int(round(args.interval_ms * 1e-3 * fs / nfft)))
        try:
            meter = power.ChannelPowerMeter(fs, band[None, :], nfft=nfft, frames_per_block=frames)
            if calibration is not None:
                # Fail before measuring when the file lacks this band.
                power.to_dbm(0.0, freq_hz, calibration)
        except ValueError as exc:
            raise UserError(f"{args.calibration or origin}: {exc}") from None
        block_len = nfft * frames
        gate = _Gate(args, pattern, burst, fs, band, nfft, block_len, capture_time, origin)
        gate.hop_bands = hop_bands
        if hop_bands is not None:
            gate.describe += f"; hopping over ARFCNs {args.hop_arfcns}"
        unit = "power_dbm" if calibration is not None else "power_dbfs"
        print(f"# {args.rat} channel {args.channel}: uplink {freq_hz / 1e6:.3f} MHz, "
              f"{(band[1] - band[0]) / 1e3:.0f} kHz, from {origin}")
        if gate.describe:
            print(f"# {gate.describe}")
        print(f"time_s,{unit}")
        rows = 0
        if gate.active:
            feed = ((k, blk) for k, blk in enumerate(_blocks(chunks, block_len)))
        else:
            feed = ((None, chunk) for chunk in chunks)
        for k, chunk in feed:
            try:
                if k is None:
                    p = meter.feed(chunk)[:, 0]
                    first = meter.blocks_done - len(p)
                else:
                    p = gate.measure(chunk, k)
                    first = k
            except ValueError as exc:
                raise UserError(f"{origin}: {exc}") from None
            level = power.to_db(p)
            if calibration is not None:
                level = power.to_dbm(level, freq_hz, calibration, gain_db=gain_db, temp_c=args.temp_c)
            for j, value in enumerate(np.atleast_1d(level)):
                t = (first + j) * block_len / fs
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


class _Gate:
    """Which samples of each interval are measured: TDD uplink, GSM bursts, or all."""

    def __init__(self, args, pattern, burst, fs, band, nfft, block_len, capture_time, origin):
        from dsp import gsm, sources, tdd

        self.pattern, self.burst, self.fs, self.band = pattern, burst, fs, band
        self.nfft, self.block_len = nfft, block_len
        self.active = pattern is not None or burst
        self.hop_bands = None
        self.check_envelope = False
        self.origin = origin
        self.frame_start_s = None
        self.describe = ""
        interval_s = block_len / fs
        if burst:
            if interval_s < 2 * gsm.FRAME_S:
                raise UserError(f"--interval-ms {args.interval_ms:g}: GSM burst power needs "
                                f"intervals of at least {2 * gsm.FRAME_S * 1e3:.1f} ms "
                                "(two TDMA frames)")
            self.describe = ("GSM burst power: the useful 147 bits of the strongest timeslot, "
                             f"as carrier power ({-gsm.GMSK_IN_CHANNEL_DB:.2f} dB of GMSK lies "
                             "outside the 200 kHz channel and is added back)")
            return
        if pattern is None:
            return
        timing = args.timing
        if timing == "auto":
            timing = "gnss" if capture_time else "envelope"
        if timing == "gnss":
            if not capture_time:
                raise UserError(f"{origin} has no core:datetime: --timing gnss needs GNSS time "
                                "(use --timing envelope)")
            try:
                whole, frac = sources.parse_datetime(capture_time)
            except sources.SourceError as exc:
                raise UserError(f"{origin}: {exc}") from None
            self.frame_start_s = tdd.frame_start_from_time(whole, frac, args.tdd_offset_us * 1e-6,
                                                           pattern.period_s)
            how = f"frame timing from core:datetime {capture_time} (GNSS time)"
            # auto: a datetime from an unsynchronised clock must not silently misplace
            # the gates; the first interval's envelope checks it
            self.check_envelope = args.timing == "auto"
        else:
            if interval_s < 2 * pattern.period_s:
                raise UserError(f"--interval-ms {args.interval_ms:g}: timing from the downlink "
                                "envelope needs intervals of at least "
                                f"{2 * pattern.period_s * 1e3:g} ms")
            how = "frame timing from each interval's downlink envelope"
        self.describe = (f"uplink only: {pattern.name}, {pattern.uplink_fraction * 100:.0f} % of "
                         f"the time; {how}")

    def measure(self, block, k):
        """Linear power of block k (NaN when its gates hold no whole frame)."""
        from dsp import gsm, power, tdd

        if self.burst:
            if self.hop_bands is not None:
                p, _ = gsm.hopping_burst_power(block, self.fs, self.hop_bands, block.size,
                                               nfft=self.nfft)
            else:
                p, _ = gsm.burst_power(block, self.fs, self.band, block.size, nfft=self.nfft)
            return p * 10 ** (-gsm.GMSK_IN_CHANNEL_DB / 10)
        if self.frame_start_s is not None:
            t0 = (self.frame_start_s - k * self.block_len / self.fs) % self.pattern.period_s
            if self.check_envelope:
                self.check_envelope = False
                self._check_against_envelope(block, t0)
        if self.frame_start_s is None:
            t0, _ = tdd.frame_start_from_envelope(block, self.fs, self.pattern)
        gates = tdd.uplink_gates(self.pattern, t0, block.size, self.fs)
        p, _ = power.gated_band_powers(block, self.fs, self.band[None, :], gates, block.size,
                                       nfft=self.nfft)
        return p[:, 0]

    def _check_against_envelope(self, block, t0):
        """Fall back to the envelope when a clear downlink says the datetime is off."""
        import sys

        from dsp import tdd

        if block.size / self.fs < 2 * self.pattern.period_s:
            return
        t_env, props = tdd.frame_start_from_envelope(block, self.fs, self.pattern)
        if props["contrast_db"] is None or props["contrast_db"] < 10.0:
            return
        rep = self.pattern.repeat_s
        off = (t_env - t0 + rep / 2) % rep - rep / 2
        if abs(off) > 50e-6:
            print(f"rfhound measure: warning: {self.origin}: core:datetime puts the frames "
                  f"{off * 1e6:+.0f} us from where the downlink's envelope has them; using "
                  "the envelope (--timing gnss to insist on the datetime)", file=sys.stderr)
            self.frame_start_s = None
