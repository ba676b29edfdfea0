"""Hook implementations of the leads plugin."""

from crmkit import hookimpl  # noqa: F401
