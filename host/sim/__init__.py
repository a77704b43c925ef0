"""A simulated city in which the real firmware, link and DSP hunt a hidden SIM-box rack.

``world`` loads and checks a world file; ``radio`` computes what an emitter
delivers to the handheld's antenna port; ``officer`` moves the handheld;
``env`` turns world and seed into the scenario the virtual handheld's fake
chips read; ``strategy`` decides where the officer goes next; ``handhelds``
starts the virtual handheld; ``hunt`` runs a whole search over the real link
into a session file; ``report`` draws the headless PNG.  docs/simulator.md
describes the models.
"""
