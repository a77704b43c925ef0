"""The Examples sections of the signal-chain modules run and stay true."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["dsp.bands", "dsp.power", "dsp.detect", "dsp.antenna",
                                  "dsp.bearing", "dsp.tdd", "dsp.gsm", "dsp.sources"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
