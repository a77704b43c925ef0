"""`rfhound`: one entry point, one sub-command per module in host.commands."""

import argparse
import importlib
import pkgutil
import sys

import host.commands
from host.errors import UserError


def _command_modules():
    mods = []
    for info in pkgutil.iter_modules(host.commands.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module("host.commands." + info.name)
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return sorted(mods, key=lambda m: m.NAME)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rfhound",
        description="rfhound: find hidden SIM-box racks by their uplink power (receive-only).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        # argparse %-formats help strings: a literal '95 %' must not be read as a format.
        text = mod.HELP.replace("%", "%%")
        p = sub.add_parser(mod.NAME, help=text, description=text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        # One line whatever the message quotes from the user's file: line breaks and
        # terminal control characters are shown escaped.
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(exc))
        print("rfhound %s: error: %s" % (args.command, text), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rfhound %s: interrupted" % args.command, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
