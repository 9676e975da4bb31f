"""Error types and the exit codes the CLI maps them to.

Every failure a user can cause is an :class:`InrzipError` whose message is one line that
names the file and what is wrong; the CLI prints it and exits with ``exit_code``.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 1      # bad arguments or options
EXIT_BAD_INPUT = 2  # unreadable, damaged or unsupported input file
EXIT_INTERNAL = 3   # a bug: anything that is not an InrzipError


class InrzipError(Exception):
    """Base for every error the user should see as a single clear line."""

    exit_code = EXIT_BAD_INPUT


class UsageError(InrzipError):
    """The request itself is invalid (options, rates, regions, existing outputs)."""

    exit_code = EXIT_USAGE


class InputError(InrzipError):
    """An input file is missing, unreadable or not of a supported kind."""


class FormatError(InrzipError):
    """An .inrz file is malformed, damaged, or needs a newer inrzip."""


class LimitError(FormatError):
    """A header asks for more than the decoder is willing to allocate."""
