"""The virtual handheld: the real firmware off the board, its chips faked at register level.

handheld.py (VirtualHandheld), chips.py (the fakes), bus.py (their side of the fake
`machine` module in mpy/), env.py (a settable environment), device.py (requests over a
Link). See docs/firmware.md.
"""
