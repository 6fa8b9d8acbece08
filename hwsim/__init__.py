"""hwsim: a hardware simulator and design-space explorer for looped and standard transformers."""

__version__ = "0.1.0"
