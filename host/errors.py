"""Errors a user can meet, shown as one line without a traceback."""


class UserError(Exception):
    """A mistake in the user's input: the message says what, where and what to do."""
