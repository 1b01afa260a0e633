"""The declaration (policy as code): model, loading with positions, checks, compile, render, diff.

This package imports nothing else of troth.
"""

from .diff import Change, diff_declarations, diff_policies
from .durations import Duration
from .loader import load_policy, read_declaration
from .model import Declaration
from .policy import Policy
from .problems import DeclarationError, Problem

__all__ = [
    "Change",
    "Declaration",
    "DeclarationError",
    "Duration",
    "Policy",
    "Problem",
    "diff_declarations",
    "diff_policies",
    "load_policy",
    "read_declaration",
]
