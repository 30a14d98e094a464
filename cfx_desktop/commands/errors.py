"""The one exception a command raises for a problem with what the user asked for. It lives here, below both the
command modules and `cli`, so that neither imports the other for it."""


class UserError(Exception):
    """A problem with what the user asked for (bad file, bad value); printed without a traceback."""
