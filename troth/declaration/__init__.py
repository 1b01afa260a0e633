"""The declaration (policy as code): model, loading with positions, checks, compile, render, diff.

This package imports nothing else of troth.
"""

from .durations import Duration
from .loader import load_policy, read_declaration
from .model import Declaration
from .policy import Policy
from .problems import DeclarationError, Problem

__all__ = [
    "Declaration",
    "DeclarationError",
    "Duration",
    "Policy",
    "Problem",
    "load_policy",
    "read_declaration",
]
