"""The one exception type for problems the user can fix (bad input, bad config)."""


class UserError(Exception):
    """A problem in the user's input or config: shown as one line, without a traceback.

    The message names the file, column, row or key at fault and what to do about it.
    """
