"""rfhound DSP core: channel plans, calibrated power, detection, bearings and localisation.

Pure numpy/scipy; knows nothing of Qt or of the host.
"""
