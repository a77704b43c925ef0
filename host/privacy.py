"""IMSIs are personal data: outside the signed tasking they are only ever shown masked."""

import re

_IMSI = re.compile(r"^[0-9]{6,15}$")


def mask_imsi(imsi):
    """Mask an IMSI: keep MCC+MNC (first 5 digits) and the last 2 digits.

    >>> mask_imsi("460001234567812")
    '46000********12'

    An already-masked value is returned unchanged; anything else that is not an IMSI
    raises ValueError so that a malformed identifier is never passed through in clear.
    """
    text = str(imsi).strip()
    if is_masked(text):
        return text
    if not _IMSI.match(text):
        raise ValueError("not an IMSI (6-15 digits): %r" % _shorten(text))
    return text[:5] + "*" * (len(text) - 7) + text[-2:]


def is_masked(text):
    return bool(re.match(r"^[0-9]{5}\*+[0-9]{2}$", str(text)))


def _shorten(text):
    # Never echo a long digit string back whole in an error message.
    return text if len(text) <= 4 else text[:2] + "..." + text[-2:]
