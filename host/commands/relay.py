"""`rfhound relay`: publish a session file to the operations centre over MQTT."""

import logging
import signal
import threading

from host.errors import UserError

NAME = "relay"
HELP = "publish a session to the operations centre over MQTT (outbox kept until the centre's receipt)"


def add_arguments(parser):
    from host.ops.options import add_broker_arguments

    add_broker_arguments(parser)
    parser.add_argument("--team", required=True, help="team name, used in the topic and client id")
    parser.add_argument("--once", action="store_true",
                        help="exit once every record in the file is confirmed by the operations centre, "
                             "or after --receipt-wait seconds connected without a new receipt "
                             "(default: follow the file until Ctrl-C or SIGTERM)")
    parser.add_argument("--receipt-timeout", type=float, default=10.0, metavar="S",
                        help="publish a record again if the centre's receipt has not come after S seconds "
                             "(doubling per attempt up to 300 s; default 10)")
    parser.add_argument("--receipt-wait", type=float, default=30.0, metavar="S",
                        help="with --once: give up after S seconds connected without a new receipt; the "
                             "unconfirmed records stay in the outbox (default 30)")
    parser.add_argument("session", help="session file (.sqlite), possibly still being recorded")


def run(args):
    from host.ops.options import config_from_args
    from host.ops.relay import Relay
    from host.session import SessionError

    logging.basicConfig(level=logging.INFO, format="rfhound relay: %(levelname)s: %(message)s")
    config = config_from_args(args)
    for name in ("receipt_timeout", "receipt_wait"):
        if not getattr(args, name) > 0:
            raise UserError(f"--{name.replace('_', '-')} {getattr(args, name):g}: give a number of seconds above 0")
    try:
        relay = Relay(args.session, config, args.team, receipt_timeout_s=args.receipt_timeout,
                      receipt_wait_s=args.receipt_wait)
    except SessionError as exc:
        raise UserError(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stats = relay.run(stop, once=args.once)
    logging.getLogger("rfhound.ops.relay").info(
        "stopped: %(sent)d of %(records)d records confirmed by the operations centre; this run "
        "published %(published)d (%(resent)d again for want of a receipt), %(acked)d acknowledged and "
        "%(refused)d refused by the broker, %(unsendable)d not sendable", stats)
    return 1 if stats["refused"] else 0
