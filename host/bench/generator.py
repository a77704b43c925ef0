"""CW signal generator driven over SCPI (pyvisa).

The driver takes an open pyvisa resource (hardware injected), speaks only the
SCPI subset every CW generator understands (``*IDN?``, ``*OPC?``, ``FREQ``,
``POW``, ``OUTP``, ``SYST:ERR?``) and reads the error queue after every
setting, so a refused level is reported at the point it was asked for instead
of silently leaving the previous level on the cable.

Safety: :meth:`SignalGenerator.rf_on` is a context manager that switches the
RF output on and guarantees it is switched off again on every exit, including
``KeyboardInterrupt`` and exceptions raised by the sweep around it.
"""
import contextlib
import dataclasses
import os
import threading

#: pyvisa-sim description of a generator (see ``sim/generator.yaml``).
SIM_YAML = os.path.join(os.path.dirname(__file__), "sim", "generator.yaml")
#: VISA address of the simulated generator in :data:`SIM_YAML`.
SIM_ADDRESS = "TCPIP::192.0.2.10::inst0::INSTR"

# SCPI error queues hold a bounded number of entries (IEEE 488.2 section 11.5
# leaves the depth to the instrument; 10-100 is usual), so draining stops here
# even if an instrument never answers "0,..." because of a firmware fault.
_MAX_QUEUED_ERRORS = 100


class InstrumentError(RuntimeError):
    """The instrument refused a command or reported errors in its queue."""


@dataclasses.dataclass(frozen=True)
class GeneratorState:
    """What the generator is putting on its RF connector."""

    frequency_hz: float
    level_dbm: float
    output_on: bool


class SignalGenerator:
    """A CW signal generator behind a pyvisa message-based resource.

    Parameters
    ----------
    resource : pyvisa.resources.MessageBasedResource
        Open resource; its read/write terminations are set to LF here.
    address : str, optional
        The VISA address it was opened with, for error messages.

    Notes
    -----
    All calls are serialised by a lock so a second thread (a power monitor, or
    the simulated bench cable) may query :meth:`state` during a sweep.
    """

    def __init__(self, resource, address=None):
        self._res = resource
        self.address = address or getattr(resource, "resource_name", "?")
        self._res.read_termination = "\n"
        self._res.write_termination = "\n"
        self._lock = threading.RLock()
        self._identity = None

    # -- raw SCPI ---------------------------------------------------------
    def _io_error(self, command, exc):
        return InstrumentError(f"signal generator at {self.address} did not take {command!r} "
                               f"({exc}); check it is on, its address and the cable")

    def _write(self, command):
        import pyvisa
        with self._lock:
            try:
                self._res.write(command)
            except (pyvisa.errors.VisaIOError, OSError) as exc:
                raise self._io_error(command, exc) from None

    def _query(self, command):
        import pyvisa
        with self._lock:
            try:
                answer = self._res.query(command).strip()
            except (pyvisa.errors.VisaIOError, OSError) as exc:
                raise self._io_error(command, exc) from None
        if not answer:
            raise self._io_error(command, "empty answer")
        return answer

    # -- identity and errors ----------------------------------------------
    def identity(self):
        """Return the ``*IDN?`` answer (manufacturer,model,serial,firmware)."""
        if self._identity is None:
            self._identity = self._query("*IDN?")
        return self._identity

    def errors(self):
        """Drain the SCPI error queue; return the entries other than ``0,...``."""
        found = []
        with self._lock:
            for _ in range(_MAX_QUEUED_ERRORS):
                entry = self._query("SYST:ERR?")
                code = entry.split(",", 1)[0].strip()
                if code in ("0", "+0"):
                    break
                found.append(entry)
        return found

    def check(self, what):
        """Raise :class:`InstrumentError` if the error queue is not empty.

        Parameters
        ----------
        what : str
            The command that was just sent, named in the error message.
        """
        found = self.errors()
        if found:
            raise InstrumentError(
                f"signal generator {self.identity()} refused {what!r}: "
                f"{'; '.join(found)}")

    # -- settings ----------------------------------------------------------
    def _set(self, command):
        # *OPC? returns once the setting has taken effect (synthesizer locked,
        # attenuator switched), so the level is on the cable when this returns
        with self._lock:
            self._write(command)
            self._query("*OPC?")
            self.check(command)

    def set_frequency_hz(self, frequency_hz):
        """Set the CW frequency (Hz) and check the instrument accepted it."""
        self._set(f"FREQ {float(frequency_hz):.0f}")

    def set_level_dbm(self, level_dbm):
        """Set the RF level (dBm at the generator connector) and check it."""
        self._set(f"POW {float(level_dbm):.2f}")

    def set_output(self, on):
        """Switch the RF output on or off and check the instrument obeyed."""
        self._set(f"OUTP {1 if on else 0}")

    def state(self):
        """Query frequency, level and output state from the instrument."""
        with self._lock:
            return GeneratorState(
                frequency_hz=float(self._query("FREQ?")),
                level_dbm=float(self._query("POW?")),
                output_on=self._query("OUTP?") in ("1", "ON"))

    @contextlib.contextmanager
    def rf_on(self):
        """Switch the output on for the ``with`` body, off on every exit.

        The output-off command is sent even when the body raised (Ctrl-C
        included); an error while switching off is raised only if the body
        itself succeeded, so the original exception is never masked.
        """
        try:
            # inside the try: Ctrl-C between "OUTP 1" and its check must still
            # end with the output off
            self.set_output(True)
            yield self
        except BaseException:
            with contextlib.suppress(Exception):
                self.set_output(False)
            raise
        self.set_output(False)

    def close(self):
        """Switch the output off and release the VISA session."""
        try:
            with contextlib.suppress(Exception):
                self._write("OUTP 0")
        finally:
            self._res.close()


def open_generator(address=None, *, simulated=False):
    """Open a signal generator by VISA address.

    Parameters
    ----------
    address : str, optional
        VISA resource string, e.g. ``TCPIP::192.168.1.20::inst0::INSTR`` or
        ``TCPIP::192.168.1.20::5025::SOCKET``. Defaults to the simulated
        generator's address when ``simulated``.
    simulated : bool
        Use the pyvisa-sim generator described by :data:`SIM_YAML`.

    Returns
    -------
    SignalGenerator
    """
    import pyvisa

    backend = f"{SIM_YAML}@sim" if simulated else "@py"
    address = address or (SIM_ADDRESS if simulated else None)
    if address is None:
        raise ValueError("no VISA address given for the signal generator")
    manager = pyvisa.ResourceManager(backend)
    try:
        resource = manager.open_resource(address, open_timeout=5000)
    except (pyvisa.errors.VisaIOError, ValueError, OSError) as exc:
        raise InstrumentError(
            f"cannot open signal generator at {address}: {exc}; "
            "check the address (rfhound bench ... --generator) and the LAN/USB cable") from None
    resource.timeout = 5000
    generator = SignalGenerator(resource, address)
    try:
        generator.identity()     # something that answers SCPI is at the address
    except InstrumentError:
        resource.close()
        raise
    return generator
