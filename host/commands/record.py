"""rfhound record: record a handheld's serial stream to a session file.

Exit status 0 after a clean stop; 1 when recording stopped on a storage fault (a
full disk): the banner says so and how many records the file holds.
"""

import os
import signal
import sys
import threading
import time

from host.errors import UserError

NAME = "record"
HELP = "record everything a handheld sends on a serial port to a session file"

#: Exit status when recording stopped because the session could not be written.
EXIT_STORAGE_FAULT = 1


def add_arguments(parser):
    parser.add_argument("port", help="serial port or pyserial URL (e.g. /dev/ttyACM0)")
    parser.add_argument("--out", required=True, help="new session file (.sqlite)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: until Ctrl-C)")


def banner(text):
    """The lines shown when recording stops on a fault: impossible to overlook."""
    rule = "!" * 78
    return f"\n{rule}\n!! RECORDING STOPPED\n!! {text}\n{rule}"


def run(args):
    from host.recorder import Recorder
    from host.session import SessionError
    if os.path.exists(args.out):
        raise UserError("%s: already exists; choose a new file name" % args.out)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        rec = Recorder(args.port, args.out).start()
    except SessionError as exc:
        raise UserError(str(exc)) from None
    t0 = time.monotonic()
    try:
        while not stop.wait(1.0):
            s = rec.link.stats()
            print("\r%s  stored %d records  crc errors %d  lost %d   " % (
                "connected" if s["connected"] else "waiting for %s" % args.port,
                rec.n_stored, s["crc_errors"], s["lost_frames"]), end="", flush=True)
            if rec.failed.is_set():
                break
            if args.seconds is not None and time.monotonic() - t0 >= args.seconds:
                break
    except KeyboardInterrupt:
        pass
    finally:
        rec.stop()
    if rec.error is not None:
        print(banner(rec.error), file=sys.stderr, flush=True)
        return EXIT_STORAGE_FAULT
    print("\nrecorded %d records to %s" % (rec.n_stored, args.out))
    return 0
