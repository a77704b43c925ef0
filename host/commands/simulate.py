"""rfhound simulate: record a simulated hunt to a session file without watching it."""

import sys

from host.errors import UserError

NAME = "simulate"
HELP = "record a simulated hunt (real firmware in a virtual handheld) to a session file"


def add_arguments(parser):
    from host.commands.demo import world_help

    parser.add_argument("--world", default=None, help=world_help())
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", required=True, metavar="SESSION.sqlite", help="new session file to write")
    parser.add_argument("--speed", type=float, default=None,
                        help="simulated seconds per real second (default 10)")
    parser.add_argument("--strategy", default="search", choices=("search", "hotter-colder"),
                        help="how the simulated officer searches (default search)")
    parser.add_argument("--handheld", default=None, choices=("micropython", "cpython", "model"),
                        help="firmware runtime of the virtual handheld (default micropython)")
    parser.add_argument("--report", metavar="PNG", default=None, help="also write the PNG report here")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args):
    import os

    from host.commands.demo import HEADLESS_SPEED, check_common, emit, pick_handheld
    from host.sim.handhelds import HandheldError
    from host.sim.hunt import simulate

    world = check_common(args)
    if os.path.exists(args.out) and os.path.getsize(args.out) > 0:
        raise UserError("--out %s: file exists; choose a new name for a new session" % args.out)
    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        raise UserError("--out %s: directory %s does not exist" % (args.out, parent))
    handheld = pick_handheld(args.handheld)
    from host.sim.latlon import add_latlon
    from host.sim.progress import HuntProgress

    try:
        with HuntProgress() as progress:
            result, _ = simulate(world, args.seed, args.out, handheld=handheld,
                                 strategy=args.strategy, speed=args.speed or HEADLESS_SPEED,
                                 report_path=args.report, hunt_ready=progress.attach)
    except HandheldError as exc:
        print("rfhound simulate: %s" % exc, file=sys.stderr)
        return 1
    emit(add_latlon(result, world), args.json)
    return 0
