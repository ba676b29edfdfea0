"""Plugin discovery and hook calls: one pluggy manager per CRM object.

Every plugin, built-in or third-party, is an entry point of the group ``crmkit``. Which ones load
is chosen, in this order, by the ``plugins=`` argument, the ``CRMKIT_PLUGINS`` environment
variable (comma-separated names; empty means none), the team's settings file (``crmkit.toml``,
see :func:`find_config_file`) or the CRM file's ``plugins`` setting; with none of them, every
installed plugin loads.
"""

from __future__ import annotations

import inspect
import os
import tomllib
import types
from pathlib import Path
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Iterable

import pluggy
from attrs import frozen

from . import hookspecs
from .errors import CrmError, PluginError

ENTRY_POINT_GROUP = "crmkit"
ENV_ALLOW_LIST = "CRMKIT_PLUGINS"
ENV_CONFIG = "CRMKIT_CONFIG"
CONFIG_FILE_NAME = "crmkit.toml"

hookimpl = pluggy.HookimplMarker("crmkit")


@frozen
class PluginInfo:
    """What ``crmkit plugins`` shows about one loaded plugin."""

    name: str
    version: str | None
    hooks: tuple[str, ...]
    source: str


def installed_entry_points(scan: Any = None) -> dict[str, EntryPoint]:
    """Entry points of group ``crmkit`` by name; ``scan`` is a result of
    ``importlib.metadata.entry_points()`` to select from instead of reading every installed
    distribution's metadata again (the CLI's start-up needs two groups from one scan)."""
    found = scan.select(group=ENTRY_POINT_GROUP) if scan is not None else entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in found}


def selection_from_environment() -> list[str] | None:
    """The allow-list from ``CRMKIT_PLUGINS``, or None when it is not set."""
    raw = os.environ.get(ENV_ALLOW_LIST)
    if raw is None:
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]


def find_config_file(db_path: str | Path | None = None) -> Path | None:
    """The team's settings file: ``$CRMKIT_CONFIG``, else ``crmkit.toml`` in the current folder,
    else ``crmkit.toml`` beside the database file. None when there is none."""
    named = os.environ.get(ENV_CONFIG)
    if named:
        path = Path(named)
        if not path.is_file():
            raise CrmError(f"{ENV_CONFIG} names {named}, which is not a file")
        return path
    candidates = [Path.cwd() / CONFIG_FILE_NAME]
    if db_path is not None and str(db_path) != ":memory:" and "://" not in str(db_path):
        candidates.append(Path(db_path).expanduser().resolve().parent / CONFIG_FILE_NAME)
    return next((path for path in candidates if path.is_file()), None)


def selection_from_config_file(db_path: str | Path | None = None) -> list[str] | None:
    """``plugins = [...]`` from the ``[crmkit]`` table of the settings file, or None."""
    path = find_config_file(db_path)
    if path is None:
        return None
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CrmError(f"cannot read settings file {path}: {error}") from None
    plugins = config.get("crmkit", {}).get("plugins")
    if plugins is None:
        return None
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise CrmError(f"{path}: [crmkit] plugins must be a list of plugin names")
    return plugins


class PluginSet:
    """The loaded plugins of one CRM object and the manager that calls them."""

    def __init__(self, pm: pluggy.PluginManager, versions: dict[str, str | None], sources: dict[str, str]):
        self.pm = pm
        self._versions = versions
        self._sources = sources

    @property
    def hook(self):
        return self.pm.hook

    def names(self) -> list[str]:
        """Names of the registered plugins, in registration order."""
        return [name for name, plugin in self.pm.list_name_plugin() if plugin is not None]

    def info(self) -> list[PluginInfo]:
        """Name, version, source and implemented hooks of every loaded plugin."""
        out = []
        for name in self.names():
            plugin = self.pm.get_plugin(name)
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            out.append(PluginInfo(name, self._versions.get(name), tuple(hooks), self._sources.get(name, "object")))
        return out

    def call(self, hook_name: str, **kwargs: Any) -> list:
        """Call a hook with pluggy's semantics; a failing implementation raises PluginError."""
        caller = getattr(self.pm.hook, hook_name)
        try:
            return caller(**kwargs)
        except PluginError:
            raise
        except Exception as error:
            raise PluginError(self._culprit(caller, error), hook_name, error) from error

    def each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any, BaseException | None]]:
        """Call every implementation separately, in call order, catching each one's error.

        Returns ``(plugin_name, result, error)`` triples. Used where one plugin's failure must
        not hide the others' results (report sections) or where the caller must know which
        plugin returned what (extensions, fields).
        """
        caller = getattr(self.pm.hook, hook_name)
        out = []
        for impl in reversed(caller.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            args = [kwargs[name] for name in impl.argnames]
            try:
                out.append((impl.plugin_name, impl.function(*args), None))
            except Exception as error:  # noqa: BLE001 - the caller decides what a failure means
                out.append((impl.plugin_name, None, error))
        return out

    def each_or_raise(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Like :meth:`each`, but the first failure raises a PluginError naming the plugin."""
        results = []
        for plugin, result, error in self.each(hook_name, **kwargs):
            if error is not None:
                raise PluginError(plugin, hook_name, error) from error
            results.append((plugin, result))
        return results

    def _culprit(self, caller, error: BaseException) -> str:
        codes = {impl.function.__code__: impl.plugin_name for impl in caller.get_hookimpls()}
        traceback = error.__traceback__
        while traceback is not None:
            name = codes.get(traceback.tb_frame.f_code)
            if name is not None:
                return name
            traceback = traceback.tb_next
        return "<unknown plugin>"


def load_plugins(selection: Iterable[Any] | None = None, *, scan: Any = None) -> PluginSet:
    """Make a plugin manager and register the selected plugins.

    ``selection`` items are entry point names (``"loyalty"``) or plugin objects (a module, a class
    instance) registered directly, which is how tests add small plugins. ``None`` means the
    environment's allow-list or, without one, every installed plugin. ``scan`` as for
    :func:`installed_entry_points`.
    """
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    available = installed_entry_points(scan)
    versions: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    if selection is None:
        selection = selection_from_environment()
    if selection is None:
        selection = selection_from_config_file()
    if selection is None:
        selection = sorted(available)
    for item in selection:
        if isinstance(item, str):
            _register_entry_point(pm, item, available, versions, sources)
        else:
            name = _object_name(item)
            if isinstance(item, type) and _needs_instance(pm, item):
                item = _instantiate(name, item, "pass an instance of it")
            try:
                pm.register(item, name=name)
            except ValueError as error:
                raise CrmError(f"plugin {name!r} registered twice: {error}") from None
            sources[name] = "object"
    try:
        PluginSet(pm, versions, sources).call("crmkit_addhooks", pm=pm)
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        name = pm.get_name(error.plugin) or repr(error.plugin)
        reason = str(error).replace(repr(error.plugin), repr(name))
        raise CrmError(f"plugin {name!r} is invalid: {reason}") from None
    for name, plugin in pm.list_name_plugin():
        if plugin is not None and not pm.get_hookcallers(plugin):
            raise CrmError(_no_hooks_message(pm, name, plugin, sources.get(name, "object")))
    return PluginSet(pm, versions, sources)


def _register_entry_point(pm, name, available, versions, sources) -> None:
    entry_point = available.get(name)
    if entry_point is None:
        known = ", ".join(sorted(available)) or "none installed"
        raise CrmError(f"unknown plugin {name!r}; installed plugins: {known}")
    try:
        plugin = entry_point.load()
    except Exception as error:
        raise PluginError(name, "load", error) from error
    if isinstance(plugin, type) and _needs_instance(pm, plugin):
        plugin = _instantiate(
            name, plugin, f"name an instance in the entry point (`{name}_plugin = {plugin.__name__}(...)` in the "
            f"module, \"{entry_point.module}:{name}_plugin\")",
        )
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        raise CrmError(f"plugin {name!r} is invalid: {error}") from None
    dist = getattr(entry_point, "dist", None)
    versions[name] = dist.version if dist is not None else None
    sources[name] = f"{entry_point.value} ({dist.name if dist else 'unknown distribution'})"


def _object_name(plugin: Any) -> str:
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    name = getattr(plugin, "name", None)
    if isinstance(name, str):
        return name
    return type(plugin).__name__ if not isinstance(plugin, type) else plugin.__name__


def _hook_attributes(pm: pluggy.PluginManager, namespace: Any) -> list[str]:
    """Names of the attributes of ``namespace`` (a module or class) marked ``@hookimpl``."""
    return [name for name in dir(namespace) if pm.parse_hookimpl_opts(namespace, name) is not None]


def _needs_instance(pm: pluggy.PluginManager, cls: type) -> bool:
    """True when a class's hook implementations are methods (they take ``self``): pluggy would
    call them unbound, so the plugin is an instance of the class, not the class."""
    return any(inspect.isfunction(inspect.getattr_static(cls, name)) for name in _hook_attributes(pm, cls))


def _instantiate(name: str, cls: type, instead: str) -> Any:
    """The one instance of a plugin class named in place of a plugin object; ``instead`` says
    what to do when the class cannot be made without arguments."""
    try:
        return cls()
    except Exception as error:  # noqa: BLE001 - whatever the class's __init__ raises
        raise CrmError(
            f"plugin {name!r} is the class {cls.__qualname__}, whose hooks are methods, and crmkit cannot make "
            f"an instance of it without arguments ({type(error).__name__}: {error}); {instead}"
        ) from None


def _no_hooks_message(pm: pluggy.PluginManager, name: str, plugin: Any, source: str) -> str:
    """Why a plugin that implements no crmkit hook is refused, with the likely fix: an entry point
    that names a module whose hooks are the methods of a class in it."""
    where = "" if source == "object" else f", entry point {source},"
    message = f"plugin {name!r}{where} implements no crmkit hook, so it would do nothing"
    if isinstance(plugin, types.ModuleType):
        classes = [
            value.__name__ for value in vars(plugin).values()
            if isinstance(value, type) and value.__module__ == plugin.__name__ and _hook_attributes(pm, value)
        ]
        if classes:
            return (
                f"{message}: its hooks are methods of class {classes[0]}; point the entry point at the class "
                f"(\"{plugin.__name__}:{classes[0]}\"), or make the hooks module-level functions"
            )
    return f"{message}; mark its hook functions with @crmkit.hookimpl"
