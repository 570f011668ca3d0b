"""Which of the engine's modules run compiled (setup.py's optional mypyc build), and a refusal to run
a compiled module older than its source: Python imports a module's ``.so`` in preference to its
``.py``, so an edit made after an in-place build would otherwise silently not run.

The refusal is for source checkouts only: an installed package (site-packages, as in the production
image) was written by pip, which stamps every file with the moment it wrote it, so there the times say
nothing about which came first."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

REBUILD = "GRIDWATCH_MYPYC=1 python setup.py build_ext --inplace"


class StaleBuild(ImportError):
    """A compiled engine module is older than its source."""


def compiled(modules: Iterable[ModuleType]) -> list[str]:
    """The names of ``modules`` that were loaded from a compiled extension, not from source."""
    return [m.__name__ for m in modules if Path(m.__file__ or "").suffix not in (".py", ".pyc")]


def installed(path: Path) -> bool:
    """``path`` is inside an installed distribution (site-packages or Debian's dist-packages)."""
    return any(part in ("site-packages", "dist-packages") for part in path.parts)


def check_fresh(modules: Iterable[ModuleType]) -> None:
    """Raise ``StaleBuild`` when a compiled module in a source checkout is older than the ``.py`` beside it."""
    for module in modules:
        built = Path(module.__file__ or "")
        if built.suffix in (".py", ".pyc") or installed(built):
            continue
        source = built.with_name(built.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > built.stat().st_mtime:
            raise StaleBuild(f"{built} was compiled before {source} last changed: rebuild it ({REBUILD}) "
                             f"or delete it to run the source")


def describe(modules: Iterable[ModuleType]) -> str:
    """"pure Python" or "compiled with mypyc (k of n modules)": what the ingest logs at start and a
    benchmark prints beside its figures, so a figure is never quoted for the wrong build."""
    modules = list(modules)
    built = compiled(modules)
    return f"compiled with mypyc ({len(built)} of {len(modules)} modules)" if built else "pure Python"
