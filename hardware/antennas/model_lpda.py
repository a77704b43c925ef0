"""Write the default handheld LPDA pattern table (lpda-700-2700.csv).

The table is a parametric model of the azimuth cut of a printed log-periodic
dipole array held with its elements horizontal, built from the summary figures
published for antennas of this class (see README.md): peak gain per frequency,
half-power beamwidth and front-to-back ratio.  The main lobe is
cos^(2p)(theta/2), which is smooth, single-peaked and reaches the back-lobe
floor at 180 deg:

    g(theta) = (1 - b) cos^(2p)(theta / 2) + b,   b = 10^(-FB/10)
    p = ln(1/2) / (2 ln cos(HPBW/4))             (so g = 1/2 at +-HPBW/2)

Run: python hardware/antennas/model_lpda.py  (rewrites the CSV beside it).
"""

import math
from pathlib import Path

# freq_hz, peak gain dBi, HPBW deg, front-to-back dB (README.md, "Sources")
FIGURES = (
    (700e6, 5.0, 70.0, 14.0),
    (900e6, 5.3, 68.0, 15.0),
    (1800e6, 5.7, 64.0, 17.0),
    (2100e6, 5.8, 63.0, 18.0),
    (2700e6, 6.0, 60.0, 18.0),
)


def gain_dbi(theta_deg, peak_dbi, hpbw_deg, fb_db):
    b = 10.0 ** (-fb_db / 10.0)
    p = math.log(0.5) / (2.0 * math.log(math.cos(math.radians(hpbw_deg) / 4.0)))
    lobe = math.cos(math.radians(theta_deg) / 2.0) ** 2
    g = (1.0 - b) * lobe ** p + b
    return peak_dbi + 10.0 * math.log10(g)


def main():
    out = Path(__file__).with_name("lpda-700-2700.csv")
    lines = ["freq_hz,angle_deg,gain_dbi"]
    for freq_hz, peak, hpbw, fb in FIGURES:
        for angle in range(360):
            lines.append(f"{freq_hz:.0f},{angle},{gain_dbi(angle, peak, hpbw, fb):.2f}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
