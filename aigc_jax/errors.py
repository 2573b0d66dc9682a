"""The one exception type that the `aigc` command line turns into a one-line message.

Raise `UserError` for anything a user can fix (a wrong path, an unknown config key, a
value of the wrong type, a workdir without a checkpoint). Everything else is a bug and
keeps its traceback.
"""


class UserError(Exception):
  """An error caused by the user's input; its message says what to do."""


class Interrupted(Exception):
  """Training stopped on a signal (SIGINT, SIGTERM) after saving a checkpoint: the run
  is resumable. The command line exits with 128 + the signal's number."""

  def __init__(self, signum: int, message: str):
    super().__init__(message)
    self.signum = signum
