"""The two panels the extension itself provides: Customers and Segments."""

from __future__ import annotations

from crmkit import Panel

from .customers import CustomersPanel
from .segments import SegmentsPanel


def core_panels() -> list[Panel]:
    """The extension's own panels, in the form plugins use (``order`` 10 and 20)."""
    return [
        Panel("customers", "Customers", CustomersPanel, order=10, plugin="crmkit_jupyter"),
        Panel("segments", "Segments", SegmentsPanel, order=20, plugin="crmkit_jupyter"),
    ]


__all__ = ["CustomersPanel", "SegmentsPanel", "core_panels"]
