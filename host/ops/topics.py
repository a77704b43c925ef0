"""MQTT topic names of the operations-centre feed.

Every record of a team's session goes to ``rfhound/v1/<team>/<session_id>/<kind>``;
the version segment lets a later wire format live beside this one on the same broker.
"""

import re

from host.errors import UserError

ROOT = "rfhound/v1"
SUBSCRIPTION = f"{ROOT}/+/+/+"
META_KIND = "meta"

# Topic segments must not contain the MQTT wildcards or separators; the same
# rule keeps team names usable as archive directory names.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_team(team):
    """Return `team` if it can be a topic segment, else raise `UserError`."""
    if not _SEGMENT.match(team or "") or team in (".", ".."):
        raise UserError(f"team name {team!r} is not usable: use 1-64 letters, digits, '_', '-' or '.', "
                        "starting with a letter or digit")
    return team


def record_topic(team, session_id, kind):
    """Topic of one record of `kind` in a session."""
    return f"{ROOT}/{team}/{session_id}/{kind}"


def parse_topic(topic):
    """Split a feed topic into ``(team, session_id, kind)``.

    Raises
    ------
    ValueError
        When the topic is not ``rfhound/v1/<team>/<session_id>/<kind>`` with
        usable segments.
    """
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != ROOT:
        raise ValueError(f"topic {topic!r} is not {ROOT}/<team>/<session>/<kind>")
    team, session_id, kind = parts[2:]
    for name, value in (("team", team), ("session", session_id), ("kind", kind)):
        if not _SEGMENT.match(value):
            raise ValueError(f"topic {topic!r} has an unusable {name} segment")
    return team, session_id, kind


# Receipts live under their own root: a team may write only rfhound/v1/<team>/#,
# so it can neither forge the centre's receipts nor see another team's.
RECEIPT_ROOT = "rfhound/receipts/v1"


def receipt_topic(team, session_id):
    """Topic on which the operations centre confirms a team session's archived records."""
    return f"{RECEIPT_ROOT}/{team}/{session_id}"
