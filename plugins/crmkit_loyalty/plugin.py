"""Hook implementations of the loyalty plugin."""

from crmkit import hookimpl  # noqa: F401
