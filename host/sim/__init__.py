"""A simulated city in which the real firmware, link and DSP hunt a hidden SIM-box rack.

``world`` loads and checks a world file, ``radio`` computes the power an emitter
delivers to the handheld's antenna port, ``officer`` moves the handheld, ``env``
joins them into the object the virtual handheld's fake chips read, and ``hunt``
runs a whole search over the real link.
"""
