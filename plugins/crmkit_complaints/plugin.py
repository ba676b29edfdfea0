"""Hook implementations of the complaints plugin."""

from crmkit import hookimpl  # noqa: F401
