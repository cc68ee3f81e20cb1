"""Misspelt config options, found before anything is built: each ``dict(type=...)`` of a
config is checked against the signature of the class its type names.

A key that the class (and the parents its ``**kwargs`` reach) does not take would
otherwise end in a ``TypeError`` deep inside a build; here it is one
:class:`~maple_mm.errors.ConfigError` naming the key, the class and its options.
"""
import functools
import inspect
import re
from typing import Iterator, List, Optional, Tuple

from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

from maple_mm.errors import ConfigError

#: Keys mmengine itself reads from a config dict before the class sees the rest.
BUILDER_KEYS = frozenset(
    {'type', '_scope_', '_delete_', 'constructor', 'paramwise_cfg', 'convert_to_iter_based'})


def _registered_classes(type_name: str) -> List[type]:
    """The classes mmpretrain's registries (or mmengine's, their parents) hold as ``type_name``.

    Read from the registries' tables: ``Registry.get`` would also try ``type_name`` as an
    import path, which costs a file-system search per registry.
    """
    scope, _, name = type_name.rpartition('.')
    found = []
    for registry in vars(mmpretrain_registry).values():
        if not isinstance(registry, Registry) or scope not in ('', registry.scope):
            continue
        for table in (registry, registry.parent):
            obj = table.module_dict.get(name) if table is not None else None
            if inspect.isclass(obj) and obj not in found:
                found.append(obj)
                break
    return found


@functools.lru_cache(maxsize=None)
def constructor_options(cls: type) -> Optional[Tuple[str, ...]]:
    """The keyword arguments ``cls(...)`` takes, in signature order; None: any.

    A constructor whose ``**kwargs`` go on to ``super().__init__(..., **kwargs)`` takes its
    parent's arguments too; ``**kwargs`` used otherwise (e.g. mmengine's EMAHook passes
    them to the averaged model) may take anything. Read once per class (reading the
    constructors' source is most of the check's cost).
    """
    options: List[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return tuple(options)
        try:
            parameters = list(inspect.signature(init).parameters.values())
            source = inspect.getsource(init)
        except (TypeError, ValueError, OSError):  # written in C, or no source
            return None
        options += [
            p.name for p in parameters
            if p.name != 'self' and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                               p.KEYWORD_ONLY) and p.name not in options
        ]
        var_keyword = next((p.name for p in parameters if p.kind is p.VAR_KEYWORD), None)
        if var_keyword is None:
            return tuple(options)
        passed_on = rf'super\([^)]*\)\.__init__\([^)]*\*\*{var_keyword}\b'
        if not re.search(passed_on, source):
            return None
    return None


def _typed_dicts(node) -> Iterator[dict]:
    """Every dict with a ``type`` inside ``node`` (dicts and lists, depth first)."""
    if isinstance(node, dict):
        if node.get('type') is not None:
            yield node
        for value in node.values():
            yield from _typed_dicts(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _typed_dicts(item)


def unknown_option(cfg) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
    """The first ``(key, class name, its options)`` a class of the config does not take.

    Types that name no registered class, or several classes of which one takes the
    key, are left to the builders.
    """
    for node in _typed_dicts(cfg.to_dict() if hasattr(cfg, "to_dict") else cfg):
        type_ = node['type']
        classes = [type_] if inspect.isclass(type_) else \
            _registered_classes(type_) if isinstance(type_, str) else []
        signatures = [(cls, constructor_options(cls)) for cls in classes]
        if not signatures or any(options is None for _, options in signatures):
            continue
        for key in node:
            if key not in BUILDER_KEYS and not any(key in options for _, options in signatures):
                cls, options = signatures[0]
                return key, cls.__name__, options
    return None


def check_known_options(cfg) -> None:
    """Raise a :class:`ConfigError` for a config key its class does not take."""
    found = unknown_option(cfg)
    if found is None:
        return
    key, name, options = found
    raise ConfigError(f'Unknown option {key!r} for {name} (in the config or --cfg-options); '
                      f'check the spelling. Its options: {", ".join(options)}.')
