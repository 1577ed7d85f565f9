"""Errors that the command line turns into exit codes."""


class BadInput(ValueError):
    """Input the user can fix: a bad arch string, config value, file or table.

    The message is one line and names the offending value; the CLI prints it and
    exits with code 2 without writing to the store.
    """
