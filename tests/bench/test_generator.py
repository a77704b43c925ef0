"""The SCPI driver against the pyvisa-sim generator (host/bench/sim/generator.yaml)."""

import pytest

from host.bench.generator import InstrumentError


def test_identity_has_the_four_idn_fields_and_the_queue_is_empty(generator):
    manufacturer, model, serial, firmware = generator.identity().split(",")
    assert (manufacturer, model) == ("Rohde&Schwarz", "SMB100A")
    assert generator.state().output_on is False   # every session before this one closed it
    assert generator.errors() == []


def test_settings_read_back_in_base_units(generator):
    generator.set_frequency_hz(1747.5e6)
    generator.set_level_dbm(-87.25)
    generator.set_output(True)
    state = generator.state()
    assert state.frequency_hz == 1747.5e6
    assert state.level_dbm == -87.25
    assert state.output_on is True


def test_refused_level_is_reported_from_the_error_queue(generator):
    generator.set_level_dbm(-60.0)
    with pytest.raises(InstrumentError) as exc:
        generator.set_level_dbm(+45.0)   # above the model's +20 dBm limit
    message = str(exc.value)
    assert "POW 45.00" in message and '-100,"Command error"' in message
    assert generator.state().level_dbm == -60.0      # the old level stays
    assert generator.errors() == []                  # queue drained


@pytest.mark.parametrize("raised", [RuntimeError("sweep failed"), KeyboardInterrupt()])
def test_output_is_off_after_an_exception_in_the_body(generator, raised):
    with pytest.raises(type(raised)):
        with generator.rf_on():
            assert generator.state().output_on is True
            raise raised
    assert generator.state().output_on is False


def test_close_switches_the_output_off(generator):
    from host.bench.generator import open_generator
    generator.set_output(True)
    generator.close()
    # a new session on the same simulated instrument sees the state left behind
    again = open_generator(simulated=True)
    try:
        assert again.state().output_on is False
    finally:
        again.close()


@pytest.mark.filterwarnings("ignore:read string doesn't end with termination characters")
def test_nothing_answering_at_the_address_is_one_line():
    from host.bench.generator import open_generator
    with pytest.raises(InstrumentError, match=r"signal generator at TCPIP::192\.0\.2\.99::inst0"
                                              r"::INSTR did not take '\*IDN\?' \(empty answer\)"):
        open_generator("TCPIP::192.0.2.99::inst0::INSTR", simulated=True)
