"""IMSIs are personal data: outside the signed tasking they are only ever shown masked.

Two doors: :func:`normalise_imsi` where an IMSI comes in (tasking files, worlds, the
console's tasking), which refuses anything but 14-15 digits (the rule the handheld applies,
firmware/tasking.py ``imsi_ok``); and :func:`mask_imsi` wherever one goes out, which masks
whatever it is given (an integer, a padded string, a 7-digit fragment, garbage) and never
hands a value back in clear.
"""

import re

from firmware.tasking import IMSI_DIGITS, imsi_ok

_MASKED = re.compile(r"^[0-9]{5}\*+[0-9]{2}$")


def normalise_imsi(value):
    """The IMSI ``value`` as the tasking carries it: a string of 14-15 digits.

    Integers and surrounding white space are accepted and normalised; anything else
    (dashes, letters, too few or too many digits) raises ValueError with a one-line message
    that shows only a masked form of the value.

    >>> normalise_imsi(" 460001234567812 ")
    '460001234567812'
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("not an IMSI (%d-%d digits): a %s" % (
            IMSI_DIGITS + (type(value).__name__,)))
    text = str(value).strip()
    if not imsi_ok(text):
        raise ValueError("not an IMSI (%d-%d digits, no dashes or spaces): %s" % (
            IMSI_DIGITS[0], IMSI_DIGITS[1], mask_imsi(text)))
    return text


def mask_checked(value):
    """``value`` masked, after checking it is an IMSI (already-masked values pass).

    For IMSIs arriving from elsewhere (a session's or a feed's tasking): raises ValueError
    like :func:`normalise_imsi` for anything else, so a bad record is refused, not stored.
    """
    if isinstance(value, str) and is_masked(value.strip()):
        return value.strip()
    return mask_imsi(normalise_imsi(value))


def mask_imsi(imsi):
    """Mask an IMSI: keep MCC+MNC (first 5 digits) and the last 2 digits.

    >>> mask_imsi("460001234567812")
    '46000********12'
    >>> mask_imsi(460001234567812)
    '46000********12'

    An already-masked value is returned unchanged. Anything that is not a 14-15 digit IMSI
    after stripping (a fragment, a typo, garbage) is masked whole, one star per character,
    so that no part of a malformed identifier ever passes in clear.
    """
    text = str(imsi).strip()
    if is_masked(text):
        return text
    if imsi_ok(text):
        return text[:5] + "*" * (len(text) - 7) + text[-2:]
    return "*" * max(len(text), 1)


def is_masked(text):
    return bool(_MASKED.match(str(text)))
