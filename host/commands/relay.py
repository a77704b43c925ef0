"""`rfhound relay`: publish a session file to the operations centre over MQTT."""

import logging
import signal
import threading

from host.errors import UserError

NAME = "relay"
HELP = "publish a session to the operations centre over MQTT (QoS 1; the session file is the outbox)"


def add_arguments(parser):
    from host.ops.options import add_broker_arguments

    add_broker_arguments(parser)
    parser.add_argument("--team", required=True, help="team name, used in the topic and client id")
    parser.add_argument("--once", action="store_true",
                        help="exit once every record in the file is acknowledged "
                             "(default: follow the file until Ctrl-C or SIGTERM)")
    parser.add_argument("session", help="session file (.sqlite), possibly still being recorded")


def run(args):
    from host.ops.options import config_from_args
    from host.ops.relay import Relay
    from host.session import SessionError

    logging.basicConfig(level=logging.INFO, format="rfhound relay: %(levelname)s: %(message)s")
    config = config_from_args(args)
    try:
        relay = Relay(args.session, config, args.team)
    except SessionError as exc:
        raise UserError(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stats = relay.run(stop, once=args.once)
    logging.getLogger("rfhound.ops.relay").info(
        "stopped: %(sent)d of %(records)d records sent; this run published %(published)d, "
        "%(acked)d acknowledged, %(refused)d refused by the broker", stats)
    return 1 if stats["refused"] else 0
