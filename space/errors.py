"""Errors a user can cause and fix; the CLI prints them as one line, without a traceback."""

from __future__ import annotations


class DivcoError(Exception):
    """Base of every error whose message alone tells the user what to change."""


class ConfigError(DivcoError, ValueError):
    """A value (candidate field, space file, budget, option) is not allowed."""


class UnknownKeyError(ConfigError, KeyError):
    """A name looked up in a registry does not exist; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InfeasibleBudgetError(ConfigError):
    """No candidate of the space fits the budget."""
