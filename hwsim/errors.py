"""Error types. Every error a user can cause is an HwsimError with a one-line message.

They are plain Exception subclasses with only a message argument, so they pickle across
sweep worker processes unchanged.
"""


class HwsimError(Exception):
    """Base of every error hwsim reports to a user (the CLI prints it on one line, exit 2)."""


class ConfigError(HwsimError):
    """A config file or value is invalid; the message names the file, the field and the problem."""


class TraceError(HwsimError):
    """An OpTrace breaks its schema or an invariant (negative bytes, flops != 2mnk, ...)."""


class CapacityError(HwsimError):
    """Something cannot be placed in a memory level (used internally; a model that does not fit
    DRAM is reported as a result with `fits = False`, not raised)."""
