"""rfhound replay: replay a recorded session in the console (or offscreen to a screenshot)."""

import os
import sys

from host.errors import UserError

NAME = "replay"
HELP = "replay a recorded session in the operator console; --screenshot saves the window as PNG"


def add_arguments(parser):
    parser.add_argument("session", help="session file recorded by rfhound")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="replay offscreen to the end, save the main window to OUT.png, exit")
    parser.add_argument("--speed", type=float, default=None,
                        help="replay speed, times real time (0 = as fast as possible; "
                             "default 1, or 0 with --screenshot)")
    parser.add_argument("--antenna", default=None,
                        help="antenna pattern id for rotation-scan bearings (hardware/antennas/)")
    parser.add_argument("--size", default="1400x880", metavar="WxH",
                        help="window size in pixels (default 1400x880)")


def parse_size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text}: give width x height in pixels, e.g. 1400x880") from None
    if not (320 <= w <= 8000 and 240 <= h <= 8000):
        raise UserError(f"--size {text}: width 320-8000 and height 240-8000 pixels")
    return w, h


def run(args):
    from host.session import SessionError, SessionReader

    try:
        with SessionReader(args.session) as reader:
            if reader.missing:
                print(f"rfhound replay: warning: {reader.missing}", file=sys.stderr)
    except SessionError as exc:
        raise UserError(str(exc)) from None
    if args.screenshot:
        out_dir = os.path.dirname(os.path.abspath(args.screenshot))
        if not os.path.isdir(out_dir):
            raise UserError(f"--screenshot {args.screenshot}: folder {out_dir} does not exist")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        # headless: Qt's platform chatter (offscreen plugin, XDG_RUNTIME_DIR) is no news to
        # the user, whose stderr holds only our one line
        os.environ.setdefault("QT_LOGGING_RULES", "*.debug=false;*.info=false;*.warning=false")
    from host.app import run_console

    speed = args.speed if args.speed is not None else (0.0 if args.screenshot else 1.0)
    errors = []
    code = run_console(args.session, screenshot=args.screenshot, screenshot_errors=errors,
                       speed=speed, antenna=args.antenna, size=parse_size(args.size))
    if args.screenshot:
        if code:
            raise UserError(f"--screenshot {args.screenshot}: "
                            f"{errors[0] if errors else 'could not write the PNG'}")
        print(f"wrote {args.screenshot}")
    return code
