"""The one exception type that the `aigc` command line turns into a one-line message.

Raise `UserError` for anything a user can fix (a wrong path, an unknown config key, a
value of the wrong type, a workdir without a checkpoint). Everything else is a bug and
keeps its traceback.
"""


class UserError(Exception):
  """An error caused by the user's input; its message says what to do."""
