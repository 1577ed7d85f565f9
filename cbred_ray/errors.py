"""Errors that the command line turns into exit codes."""


class BadInput(ValueError):
    """Input the user can fix: a bad arch string, config value, file or table.

    The message is one line and names the offending value; the CLI prints it and
    exits with code 2 without writing to the store.
    """


MESSAGE_LIMIT = 300
"""The most characters of a one-line message the command line prints."""


def short(value: object, limit: int = 120) -> str:
    """``value`` as text of at most ``limit`` characters, on one line (for messages that echo input)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
