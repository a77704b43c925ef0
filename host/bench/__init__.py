"""Lab bench: calibrate a handheld's power readings and measure its antenna pattern.

Instruments are reached through their own protocols (SCPI over pyvisa for the
signal generator, Hamlib's ``rotctld`` TCP protocol for the turntable) and are
injected into the sweep code, so the same code drives real instruments, the
pyvisa-sim generator in ``host/bench/sim/`` and Hamlib's dummy rotator.
"""
