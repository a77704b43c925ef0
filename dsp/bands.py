"""3GPP channel numbers to uplink centre frequencies and back.

GSM ARFCN (3GPP TS 45.005 clause 2), LTE EARFCN (TS 36.101 clause 5.7.3,
table 5.7.3-1) and NR-ARFCN (TS 38.104 clause 5.4.2, tables 5.4.2.1-1 and
5.4.2.3-1).  The hunt measures what the target's handset transmits, so every
channel number (uplink or downlink) resolves to the *uplink* centre frequency:
a downlink channel of an FDD band maps to its paired uplink channel, and in a
TDD band uplink and downlink share the frequency.

The module also names the calibration band of a frequency
(:func:`calibration_band`), the key of the per-band gain table that the bench
fits and the handheld applies.
"""

from bisect import bisect_right

RATS = ("gsm", "lte", "nr")

# --- GSM: TS 45.005 clause 2.  Segments (first, last, ful_first_mhz):
# F_UL(n) = ful_first_mhz + 0.2 (n - first); the E-GSM lower segment runs
# 975..1023 with F_UL = 890 + 0.2 (n - 1024).  DL = UL + duplex.
# PCS 1900 re-uses ARFCN 512-810 and needs a band indicator, so it is left out
# to keep every GSM ARFCN unambiguous.
_GSM = {
    "GSM850": {"segments": ((128, 251, 824.2),), "duplex_mhz": 45.0},
    "P-GSM": {"segments": ((1, 124, 890.2),), "duplex_mhz": 45.0},
    "E-GSM": {"segments": ((0, 124, 890.0), (975, 1023, 880.2)), "duplex_mhz": 45.0},
    "DCS1800": {"segments": ((512, 885, 1710.2),), "duplex_mhz": 95.0},
}

# --- LTE: TS 36.101 table 5.7.3-1, columns
# band: (F_DL_low MHz, N_Offs-DL, N_DL first, N_DL last,
#        F_UL_low MHz, N_Offs-UL, N_UL first, N_UL last)
# TDD bands use one EARFCN range for both directions.
_LTE = {
    1: (2110.0, 0, 0, 599, 1920.0, 18000, 18000, 18599),
    2: (1930.0, 600, 600, 1199, 1850.0, 18600, 18600, 19199),
    3: (1805.0, 1200, 1200, 1949, 1710.0, 19200, 19200, 19949),
    4: (2110.0, 1950, 1950, 2399, 1710.0, 19950, 19950, 20399),
    5: (869.0, 2400, 2400, 2649, 824.0, 20400, 20400, 20649),
    7: (2620.0, 2750, 2750, 3449, 2500.0, 20750, 20750, 21449),
    8: (925.0, 3450, 3450, 3799, 880.0, 21450, 21450, 21799),
    20: (791.0, 6150, 6150, 6449, 832.0, 24150, 24150, 24449),
    28: (758.0, 9210, 9210, 9659, 703.0, 27210, 27210, 27659),
    34: (2010.0, 36200, 36200, 36349, 2010.0, 36200, 36200, 36349),
    38: (2570.0, 37750, 37750, 38249, 2570.0, 37750, 37750, 38249),
    39: (1880.0, 38250, 38250, 38649, 1880.0, 38250, 38250, 38649),
    40: (2300.0, 38650, 38650, 39649, 2300.0, 38650, 38650, 39649),
    41: (2496.0, 39650, 39650, 41589, 2496.0, 39650, 39650, 41589),
}
_LTE_TDD = frozenset((34, 38, 39, 40, 41))

# --- NR: TS 38.104 table 5.4.2.1-1 (global raster)
# (F_REF-Offs MHz, dF_Global kHz, N_REF-Offs, N first, N last)
_NR_GLOBAL = (
    (0.0, 5.0, 0, 0, 599999),
    (3000.0, 15.0, 600000, 600000, 2016666),
)
# TS 38.104 table 5.4.2.3-1: band: (UL first, UL last, DL first, DL last, step)
# in NR-ARFCN; TDD bands repeat the range.  Steps are the finest
# channel raster the table lists for the band (100 kHz -> 20, 15 kHz -> 3 below
# 3 GHz, 15 kHz -> 1 above).
_NR = {
    "n1": (384000, 396000, 422000, 434000, 20),
    "n3": (342000, 357000, 361000, 376000, 20),
    "n8": (176000, 183000, 185000, 192000, 20),
    "n28": (140600, 149600, 151600, 160600, 20),
    "n41": (499200, 537999, 499200, 537999, 3),
    "n77": (620000, 680000, 620000, 680000, 1),
    "n78": (620000, 653333, 620000, 653333, 1),
    "n79": (693334, 733333, 693334, 733333, 1),
}

# Calibration bands: contiguous uplink frequency ranges that share one
# front-end path and hence one gain table entry.  (name, low Hz, high Hz).
CALIBRATION_BANDS = (
    ("700", 698.0e6, 806.0e6),
    ("850", 806.0e6, 880.0e6),
    ("900", 880.0e6, 960.0e6),
    ("1800", 1700.0e6, 1880.0e6),
    ("2100", 1880.0e6, 2025.0e6),
    ("2300", 2300.0e6, 2400.0e6),
    ("2600", 2496.0e6, 2690.0e6),
    ("3500", 3300.0e6, 4200.0e6),
    ("4900", 4400.0e6, 5000.0e6),
)
_CAL_LOW_HZ = [low for _, low, _ in CALIBRATION_BANDS]

# A frequency read back from a float must sit this close to a raster point.
_RASTER_TOL_HZ = 1.0


def _check_rat(rat):
    if not isinstance(rat, str) or rat.lower() not in RATS:
        raise ValueError(f"unknown RAT {rat!r}: use one of {', '.join(RATS)}")
    return rat.lower()


def _check_channel(channel):
    if isinstance(channel, float) and channel.is_integer():
        return int(channel)
    if isinstance(channel, bool) or not hasattr(channel, "__index__"):
        raise ValueError(f"channel must be an integer, got {channel!r}")
    return int(channel)


def _check_freq(freq_hz):
    try:
        freq = float(freq_hz)
    except (TypeError, ValueError):
        raise ValueError(f"freq_hz must be a number, got {freq_hz!r}") from None
    if not freq > 0.0 or freq == float("inf"):
        raise ValueError(f"freq_hz must be a positive finite number, got {freq_hz!r}")
    return freq


def _lte_band_key(band):
    if band is None:
        return None
    text = str(band).strip().upper().lstrip("B")
    if text.isdigit() and int(text) in _LTE:
        return int(text)
    raise ValueError(
        f"unknown LTE band {band!r}: supported bands {', '.join(map(str, _LTE))}")


def _nr_band_key(band):
    if band is None:
        return None
    text = str(band).strip().lower()
    text = text if text.startswith("n") else "n" + text
    if text in _NR:
        return text
    raise ValueError(f"unknown NR band {band!r}: supported bands {', '.join(_NR)}")


def _gsm_band_key(band):
    if band is None:
        return None
    for name in _GSM:
        if str(band).strip().upper().replace("_", "-") == name.upper():
            return name
    raise ValueError(f"unknown GSM band {band!r}: supported bands {', '.join(_GSM)}")


def _lte_ranges_text(bands):
    return "; ".join(
        f"B{b} UL {_LTE[b][6]}-{_LTE[b][7]}"
        + ("" if b in _LTE_TDD else f" DL {_LTE[b][2]}-{_LTE[b][3]}")
        for b in bands)


def _nr_ranges_text(bands):
    return "; ".join(
        f"{b} UL {_NR[b][0]}-{_NR[b][1]}"
        + ("" if _NR[b][0] == _NR[b][2] else f" DL {_NR[b][2]}-{_NR[b][3]}")
        + f" step {_NR[b][4]}"
        for b in bands)


def _gsm_ranges_text(bands):
    return "; ".join(
        f"{b} " + ",".join(f"{s[0]}-{s[1]}" for s in _GSM[b]["segments"]) for b in bands)


def _nr_freq_hz(n):
    for f_offs_mhz, df_khz, n_offs, n_first, n_last in _NR_GLOBAL:
        if n_first <= n <= n_last:
            # F_REF = F_REF-Offs + dF_Global (N_REF - N_REF-Offs)
            return float(round(f_offs_mhz * 1e6) + round(df_khz * 1e3) * (n - n_offs))
    raise ValueError(f"NR-ARFCN {n} outside the FR1 global raster 0-2016666")


def _nr_channel(freq_hz):
    for f_offs_mhz, df_khz, n_offs, n_first, n_last in _NR_GLOBAL:
        n = n_offs + round((freq_hz - f_offs_mhz * 1e6) / (df_khz * 1e3))
        if n_first <= n <= n_last:
            if abs(_nr_freq_hz(n) - freq_hz) > _RASTER_TOL_HZ:
                raise ValueError(
                    f"{freq_hz / 1e6:.6f} MHz is not on the NR global raster "
                    f"({df_khz:g} kHz steps here); nearest NR-ARFCN {n} is "
                    f"{_nr_freq_hz(n) / 1e6:.6f} MHz")
            return n
    raise ValueError(f"{freq_hz / 1e6:.6f} MHz is outside the NR FR1 global raster")


def _uplink_gsm(channel, band):
    names = [band] if band else list(_GSM)
    for name in names:
        for first, last, f_first_mhz in _GSM[name]["segments"]:
            if first <= channel <= last:
                return float(round(f_first_mhz * 1e3) * 1000 + 200_000 * (channel - first)), name
    raise ValueError(
        f"GSM ARFCN {channel} is outside "
        f"{'band ' + band if band else 'every supported band'}: "
        f"valid {_gsm_ranges_text(names)}")


def _uplink_lte(channel, band):
    bands = [band] if band else list(_LTE)
    for b in bands:
        fdl_low, noffs_dl, ndl_first, ndl_last, ful_low, noffs_ul, nul_first, nul_last = _LTE[b]
        if nul_first <= channel <= nul_last:
            # F_UL = F_UL_low + 0.1 (N_UL - N_Offs-UL); integer Hz keeps it exact
            return float(round(ful_low * 10) * 100_000 + 100_000 * (channel - noffs_ul)), b
        if ndl_first <= channel <= ndl_last:
            # Paired uplink channel: same offset into the band's UL range.
            return float(round(ful_low * 10) * 100_000 + 100_000 * (channel - noffs_dl)), b
    raise ValueError(
        f"LTE EARFCN {channel} is outside "
        f"{'band B' + str(band) if band else 'every supported band'}: "
        f"valid {_lte_ranges_text(bands)}")


def _uplink_nr(channel, band):
    bands = [band] if band else list(_NR)
    for b in bands:
        ul_first, ul_last, dl_first, dl_last, step = _NR[b]
        for first, last, shift in ((ul_first, ul_last, 0),
                                   (dl_first, dl_last, dl_first - ul_first)):
            if first <= channel <= last:
                if (channel - first) % step:
                    raise ValueError(
                        f"NR-ARFCN {channel} is not on band {b}'s channel raster: "
                        f"use {first} + k*{step} up to {last}")
                # FDD downlink below 3 GHz: the 5 kHz global raster is linear,
                # so the duplex spacing is a fixed NR-ARFCN shift.
                return _nr_freq_hz(channel - shift), b
    raise ValueError(
        f"NR-ARFCN {channel} is outside "
        f"{'band ' + band if band else 'every supported band'}: "
        f"valid {_nr_ranges_text(bands)}")


def uplink_band(rat, channel, band=None):
    """Uplink centre frequency and the band a channel number belongs to.

    Parameters
    ----------
    rat : {"gsm", "lte", "nr"}
    channel : int
        ARFCN, EARFCN (uplink or downlink) or NR-ARFCN.
    band : str or int, optional
        Band to interpret the channel in ("E-GSM", 3 or "B3", "n78"); inferred
        when omitted.

    Returns
    -------
    freq_hz : float
    band : str
        Band name: a GSM band name, "B<n>" for LTE, "n<n>" for NR.

    Raises
    ------
    ValueError
        Unknown RAT or band, or a channel outside the band(s), naming the
        valid ranges.
    """
    rat = _check_rat(rat)
    channel = _check_channel(channel)
    if rat == "gsm":
        return _uplink_gsm(channel, _gsm_band_key(band))
    if rat == "lte":
        freq, b = _uplink_lte(channel, _lte_band_key(band))
        return freq, f"B{b}"
    return _uplink_nr(channel, _nr_band_key(band))


def uplink_hz(rat, channel, band=None):
    """Uplink centre frequency in Hz of a 3GPP channel number.

    A downlink EARFCN or NR-ARFCN of an FDD band resolves to its paired uplink
    channel (default duplex spacing); in TDD bands uplink = downlink.

    Parameters
    ----------
    rat : {"gsm", "lte", "nr"}
    channel : int
        ARFCN (TS 45.005), EARFCN (TS 36.101) or NR-ARFCN (TS 38.104).
    band : str or int, optional
        Band to interpret the channel in; inferred when omitted.

    Returns
    -------
    float
        Uplink centre frequency in Hz.

    Examples
    --------
    >>> uplink_hz("lte", 1300)      # band 3 downlink EARFCN
    1720000000.0
    >>> uplink_hz("gsm", 975)       # E-GSM
    880200000.0
    >>> uplink_hz("nr", 636666)     # n78 (TDD)
    3549990000.0
    """
    return uplink_band(rat, channel, band)[0]


def channel_from_hz(rat, freq_hz, band=None):
    """Uplink channel number of an uplink centre frequency.

    Parameters
    ----------
    rat : {"gsm", "lte", "nr"}
    freq_hz : float
        Uplink centre frequency in Hz, on the RAT's channel raster.
    band : str or int, optional
        Needed only where the frequency lies in several bands with different
        channel numbers (e.g. LTE B3 and B4).

    Returns
    -------
    int
        GSM ARFCN, LTE uplink EARFCN or NR-ARFCN.

    Raises
    ------
    ValueError
        Frequency off the raster, outside every band, or ambiguous without
        ``band``.

    Examples
    --------
    >>> channel_from_hz("lte", 1720e6, band=3)
    19300
    >>> channel_from_hz("lte", 1930e6)
    18100
    >>> channel_from_hz("nr", 3549.99e6)
    636666
    """
    rat = _check_rat(rat)
    freq = _check_freq(freq_hz)
    if rat == "gsm":
        return _channel_gsm(freq, _gsm_band_key(band))
    if rat == "lte":
        return _channel_lte(freq, _lte_band_key(band))
    return _channel_nr(freq, _nr_band_key(band))


def _channel_gsm(freq, key):
    names = [key] if key else list(_GSM)
    found = set()
    for name in names:
        for first, last, f_first_mhz in _GSM[name]["segments"]:
            n = first + round((freq / 1e6 - f_first_mhz) / 0.2)
            if first <= n <= last:
                if abs(_uplink_gsm(n, name)[0] - freq) > _RASTER_TOL_HZ:
                    raise ValueError(
                        f"{freq / 1e6:.6f} MHz is not on the GSM 200 kHz raster of {name}")
                found.add(n)
    if not found:
        raise ValueError(
            f"{freq / 1e6:.6f} MHz is not a GSM uplink frequency of "
            f"{'band ' + key if key else 'any supported band'}: valid ARFCNs "
            f"{_gsm_ranges_text(names)}")
    # P-GSM and E-GSM share ARFCN 1-124 with the same frequencies: one number.
    return found.pop()


def _channel_lte(freq, key):
    bands = [key] if key else list(_LTE)
    hits = {}
    for b in bands:
        ful_low, noffs_ul, nul_first, nul_last = _LTE[b][4:]
        n = noffs_ul + round((freq / 1e6 - ful_low) / 0.1)
        if nul_first <= n <= nul_last:
            if abs(_uplink_lte(n, b)[0] - freq) > _RASTER_TOL_HZ:
                raise ValueError(f"{freq / 1e6:.6f} MHz is not on the LTE 100 kHz raster")
            hits[b] = n
    if not hits:
        ranges = "; ".join(
            f"B{b} {_LTE[b][4]:g}-{_LTE[b][4] + 0.1 * (_LTE[b][7] - _LTE[b][5]):g} MHz"
            for b in bands)
        raise ValueError(
            f"{freq / 1e6:.6f} MHz is not an LTE uplink frequency of "
            f"{'band B' + str(key) if key else 'any supported band'}: valid {ranges}")
    if len(hits) > 1:
        raise ValueError(
            f"{freq / 1e6:.6f} MHz lies in LTE bands "
            f"{', '.join('B' + str(b) for b in hits)}: pass band= to choose")
    return hits.popitem()[1]


def _channel_nr(freq, key):
    n = _nr_channel(freq)
    bands = [key] if key else list(_NR)
    for b in bands:
        ul_first, ul_last, _, _, step = _NR[b]
        if ul_first <= n <= ul_last and (n - ul_first) % step == 0:
            return n
    raise ValueError(
        f"{freq / 1e6:.6f} MHz (NR-ARFCN {n}) is not an uplink channel of "
        f"{'band ' + key if key else 'any supported band'}: valid {_nr_ranges_text(bands)}")


def bands_of_hz(rat, freq_hz):
    """Names of the bands whose uplink range contains a frequency.

    Parameters
    ----------
    rat : {"gsm", "lte", "nr"}
    freq_hz : float

    Returns
    -------
    list of str
        Possibly empty; several names where bands overlap (B3 and B4).
    """
    rat = _check_rat(rat)
    freq_mhz = _check_freq(freq_hz) / 1e6
    eps = _RASTER_TOL_HZ / 1e6
    if rat == "gsm":
        return [name for name, spec in _GSM.items()
                if any(f0 - eps <= freq_mhz <= f0 + 0.2 * (last - first) + eps
                       for first, last, f0 in spec["segments"])]
    if rat == "lte":
        return [f"B{b}" for b, row in _LTE.items()
                if row[4] - eps <= freq_mhz <= row[4] + 0.1 * (row[7] - row[5]) + eps]
    return [b for b, row in _NR.items()
            if _nr_freq_hz(row[0]) / 1e6 - eps <= freq_mhz <= _nr_freq_hz(row[1]) / 1e6 + eps]


def calibration_band(freq_hz):
    """Calibration band name of an uplink frequency.

    The handheld's gain table is kept per contiguous front-end range, not per
    3GPP band; :data:`CALIBRATION_BANDS` lists them as (name, low Hz, high Hz).

    Parameters
    ----------
    freq_hz : float

    Returns
    -------
    str
        e.g. "1800" for 1747.5 MHz.

    Raises
    ------
    ValueError
        Frequency in no calibration band, naming the ranges.

    Examples
    --------
    >>> calibration_band(1747.5e6)
    '1800'
    """
    freq = _check_freq(freq_hz)
    i = bisect_right(_CAL_LOW_HZ, freq) - 1
    if i >= 0 and freq <= CALIBRATION_BANDS[i][2]:
        return CALIBRATION_BANDS[i][0]
    ranges = ", ".join(f"{n} {lo / 1e6:g}-{hi / 1e6:g} MHz" for n, lo, hi in CALIBRATION_BANDS)
    raise ValueError(f"{freq / 1e6:.3f} MHz is in no calibration band: {ranges}")
