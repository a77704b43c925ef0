"""One way to read JSON that comes from outside: size and depth limits, one-line errors.

Every JSON document the project reads from a user or a peer (SigMF metadata, calibration
files, footprints GeoJSON, worlds, taskings, feed payloads) goes through :func:`load` (a file)
or :func:`loads` (bytes already in hand). A hostile or broken document gets a
:class:`host.errors.UserError` of one line naming the file and what is wrong, never a
RecursionError, a MemoryError or a half-read structure:

* more than ``max_bytes`` is refused before it is read;
* nesting deeper than ``max_depth`` is refused before it is parsed (a scan of the brackets
  outside strings, in numpy), so the parser's recursion is never at risk;
* ``NaN``, ``Infinity`` and ``-Infinity`` (Python's json accepts them; JSON does not) are
  refused, as are integers longer than Python converts;
* the top level must be of the type the caller expects (``dict`` by default).

Checking the fields is the caller's job (each format's reader); :func:`kind` names a
mistyped value's JSON type for its message.
"""

import json
import os
import re

import numpy as np

from host.errors import UserError

#: Default limits: far above any real file of the project, far below what hurts.
MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = np.zeros(256, dtype=np.int8)
_DELTA[list(b"[{")] = 1
_DELTA[list(b"]}")] = -1
_TYPE_NAMES = {dict: "an object", list: "an array"}


def depth(data):
    """Deepest bracket nesting of a JSON text (bytes), strings skipped."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    return int(np.cumsum(_DELTA[np.frombuffer(brackets, dtype=np.uint8)], dtype=np.int64).max())


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text):
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range for a number")
    return value


def loads(data, where, *, what="the JSON", expect=dict, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH):
    """Parse JSON bytes (or str) from ``where`` (a file name or a topic, for the message).

    Raises
    ------
    UserError
        One line: ``"<where>: <what> <what is wrong>"``.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    data = bytes(data)
    if len(data) > max_bytes:
        raise UserError(f"{where}: {len(data)} bytes, over the {max_bytes}-byte limit for {what}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{where}: not UTF-8 text (byte {exc.start}); save {what} as UTF-8") from None
    deep = depth(data)
    if deep > max_depth:
        raise UserError(f"{where}: nested {deep} levels deep, over the limit of {max_depth} for {what}")
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{where}: not valid JSON ({_first_line(exc)})") from None
    if expect is not None and not isinstance(doc, expect):
        want = _TYPE_NAMES.get(expect, getattr(expect, "__name__", str(expect)))
        raise UserError(f"{where}: {what} must be {want} at the top level, not {kind(doc)}")
    return doc


def load(path, *, what="the JSON", where=None, expect=dict, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH):
    """Read and parse a JSON file with the limits of :func:`loads`.

    ``what`` names the document in messages ("the footprint file"); ``where`` replaces the
    path at the start of them.

    Raises
    ------
    UserError
        The file cannot be read, is too large, too deep, not JSON, or of the wrong type.
    """
    where = os.fspath(path) if where is None else where
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise UserError(f"{where}: {size} bytes, over the {max_bytes}-byte limit for {what}")
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UserError(f"{where}: cannot read {what} ({exc.strerror or exc})") from None
    return loads(data, where, what=what, expect=expect, max_bytes=max_bytes, max_depth=max_depth)


def kind(value):
    """A short name for the JSON type of value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
