"""The error classes the core raises; only cli.py turns them into messages and exit codes."""


class BenchError(Exception):
    """Base class of every error the harness reports without a traceback."""

    exit_code = 2


class InputError(BenchError):
    """Bad input or usage: a file, an argument or a selection is wrong (exit code 2)."""

    exit_code = 2


class OutputError(InputError):
    """An output cannot or must not be written (a full disk, no reader, one of the command's
    own inputs, a file another run holds): exit code 2."""
