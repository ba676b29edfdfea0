"""Hook implementations of the reports plugin."""

from crmkit import hookimpl  # noqa: F401
