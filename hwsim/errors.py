"""Error types. Every error a user can cause is an HwsimError with a one-line message. (A model that does not
fit memory is not an error: it is a result with `fits = False` and the shortfall.)

They are plain Exception subclasses with only a message argument, so they pickle across
sweep worker processes unchanged.
"""


class HwsimError(Exception):
    """Base of every error hwsim reports to a user (the CLI prints it on one line, exit 2)."""


class ConfigError(HwsimError):
    """A config file or value is invalid; the message names the file, the field and the problem."""


class TraceError(HwsimError):
    """An OpTrace breaks its schema or an invariant (negative bytes, flops != 2mnk, ...)."""
