"""Errors the command line reports as one line."""


class CliError(Exception):
    """An error reported to the user as one clear line, never as a traceback."""
