"""What every composite widget of the toolkit shares: it owns its children and its observers.

ipywidgets' ``Box.close()`` closes the box only; its children and the callbacks wired into them
stay alive in the kernel. A :class:`Composite` remembers what it created and wired, and
``close()`` undoes all of it, so closing a dashboard frees every model it made.
"""

from __future__ import annotations

from html import escape
from typing import Any, Callable

import ipywidgets as widgets


class Composite(widgets.VBox):
    """A VBox that closes the widgets it made and removes the observers it added."""

    def __init__(self, css_class: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._owned: list[widgets.Widget] = []
        self._observers: list[tuple[widgets.Widget, Callable, Any]] = []
        self._clicks: list[tuple[widgets.Button, Callable]] = []
        self._callbacks: dict[str, list[Callable]] = {}
        if css_class:
            self.add_class(css_class)

    # --- building -------------------------------------------------------------------------

    def own(self, widget: widgets.Widget, css_class: str | None = None) -> Any:
        """Adopt ``widget``: it is closed with this one. Returns it, for chaining."""
        if css_class:
            widget.add_class(css_class)
        self._owned.append(widget)
        return widget

    def watch(self, widget: Any, handler: Callable, names: Any = "value") -> None:
        """``widget.observe(handler, names)``, undone on close."""
        widget.observe(handler, names)
        self._observers.append((widget, handler, names))

    def on_click(self, button: widgets.Button, handler: Callable[[], Any]) -> None:
        """Call ``handler()`` when ``button`` is clicked, undone on close."""

        def clicked(_button):
            handler()

        button.on_click(clicked)
        self._clicks.append((button, clicked))

    # --- events for users of the widget ----------------------------------------------------

    def _register(self, event: str, callback: Callable, remove: bool) -> None:
        callbacks = self._callbacks.setdefault(event, [])
        if remove:
            if callback in callbacks:
                callbacks.remove(callback)
        else:
            callbacks.append(callback)

    def _fire(self, event: str, *args: Any) -> None:
        for callback in list(self._callbacks.get(event, [])):
            callback(*args)

    # --- teardown -------------------------------------------------------------------------

    def close(self) -> None:
        """Close this widget, every widget it owns, and remove its observers and callbacks."""
        for widget, handler, names in self._observers:
            try:
                widget.unobserve(handler, names)
            except ValueError:
                pass
        for button, handler in self._clicks:
            button.on_click(handler, remove=True)
        self._observers.clear()
        self._clicks.clear()
        self._callbacks.clear()
        owned, self._owned = self._owned, []
        for widget in reversed(owned):
            widget.close()
        self.children = ()
        super().close()


def error_html(message: str, css_class: str = "crmkit-error") -> str:
    """An error message block (escaped)."""
    return f"<div class='{css_class}' style='color:#a40000;white-space:pre-wrap'>{escape(message)}</div>"


def note_html(message: str, css_class: str = "crmkit-note") -> str:
    """A quiet note (escaped)."""
    return f"<div class='{css_class}' style='color:#555'>{escape(message)}</div>"


def error_message(error: BaseException) -> str:
    """What a panel shows for an error: a crmkit error's own message, else its type and text."""
    from crmkit import CrmError

    return str(error) if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"


def run_busy(buttons, status, what: str, work):
    """Run ``work()`` with "working… <what>" in ``status`` and ``buttons`` disabled.

    Returns ``(result, seconds)``; an error is shown in ``status`` and the result is None, so a
    failing action never vanishes inside a widget callback.
    """
    import time

    for button in buttons:
        button.disabled = True
    status.value = note_html(f"working… {what}", "crmkit-working")
    started = time.perf_counter()
    try:
        return work(), time.perf_counter() - started
    except Exception as error:  # noqa: BLE001 - shown in the panel, not lost in a callback
        status.value = error_html(error_message(error))
        return None, time.perf_counter() - started
    finally:
        for button in buttons:
            button.disabled = False
