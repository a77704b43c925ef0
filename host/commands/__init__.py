"""Sub-commands of `rfhound`: one module each, discovered by host.cli.

A module defines NAME, HELP (one line), add_arguments(parser) and run(args) -> int.
"""
