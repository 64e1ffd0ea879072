"""Site engines: MkDocs (the default) or Zensical turns the staged docs into HTML, one config.

Both read the same flattened configuration: the repository's `mkdocs.yml` with any `INHERIT`
resolved (Zensical's support for it is a stopgap), plus the generated nav and directories. Tags
such as `!ENV` or `!!python/name:` are kept as written, for the engine to resolve. Zensical wants
its `site_dir` inside the directory of its config file, so its output goes under `build/`.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.exceptions import CourseError

ENGINES = ("mkdocs", "zensical")
DEFAULT_ENGINE = "mkdocs"


class SiteError(CourseError):
    """The site cannot be built: a clash with a hand-written page, or the engine failed."""


@dataclass(frozen=True)
class Tagged:
    """A YAML node with a tag this module does not interpret (`!ENV`, `!!python/name:`)."""

    tag: str
    value: object


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    pass


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tagged(node.tag, value)


def _represent_tagged(dumper: yaml.SafeDumper, data: Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    return dumper.represent_scalar(data.tag, data.value)


_Loader.add_multi_constructor("!", _construct_tagged)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _construct_tagged)
_Dumper.add_representer(Tagged, _represent_tagged)


def _merged(parent: dict, child: dict) -> dict:
    """`child` over `parent`, mappings merged key by key (as MkDocs merges `INHERIT`)."""
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def flat_config(config: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The settings of `config` with its `INHERIT` chain resolved.

    Raises:
        SiteError: the file is not valid YAML, or its `INHERIT` chain is broken or circular.
    """
    if config in seen:
        raise SiteError(f"{config}: INHERIT loops back to itself")
    try:
        settings = yaml.load(config.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506 - a SafeLoader
    except (OSError, yaml.YAMLError) as err:
        raise SiteError(f"{config}: cannot read the site's configuration: {err}") from None
    if not isinstance(settings, dict):
        raise SiteError(f"{config}: the site's configuration is not a mapping")
    parent = settings.pop("INHERIT", None)
    if parent is None:
        return settings
    base = (config.parent / str(parent)).resolve()
    return _merged(flat_config(base, (*seen, config)), settings)


def write_config(base: Path, target: Path, docs_dir: Path, site_dir: Path, nav: list) -> Path:
    """Write `target`: `base` flattened, with the generated nav and the directories (relative
    to `target`, as both engines read them). Left untouched when already equal."""
    settings = flat_config(base.resolve())
    settings.update(
        docs_dir=os.path.relpath(docs_dir, target.parent),
        site_dir=os.path.relpath(site_dir, target.parent),
        nav=nav,
    )
    source = os.path.relpath(base, target.parent)
    text = f"# Written by `course build` from {source}; edit that file instead.\n" + yaml.dump(
        settings, Dumper=_Dumper, sort_keys=False, allow_unicode=True
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """The warnings MkDocs logs inside the block, to name in an error."""
    collect = _Collect()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(collect)
    try:
        yield collect.messages
    finally:
        logger.removeHandler(collect)


def build_with_mkdocs(config_file: Path) -> None:
    """`mkdocs build --strict`, in this process."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    with collect_warnings() as messages:
        try:
            build(load_config(config_file=str(config_file), strict=True))
        except MkDocsException as err:
            detail = "; ".join(messages[:3]) or str(err)
            raise SiteError(f"mkdocs build --strict failed: {detail}") from None


def build_with_zensical(config_file: Path) -> None:
    """`zensical build --strict`, in a subprocess (its runtime keeps state per process)."""
    try:
        import zensical  # noqa: F401 - only to report a missing install clearly
    except ImportError:
        raise SiteError("--engine zensical needs the zensical package (pip install -e .)") from None
    done = subprocess.run(
        [sys.executable, "-m", "zensical", "build", "--strict", "-f", str(config_file)],
        cwd=config_file.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SiteError(
            "zensical build --strict failed: " + zensical_issues(done.stderr, done.stdout)
        )


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Zensical's report of an issue: `Warning: anchor does not exist`, then `╭─[ page.md:3:5 ]`.
ISSUE = re.compile(r"^(?:Warning|Error): (.+)$")
PLACE = re.compile(r"\[ (\S+:\d+:\d+) \]")


def zensical_issues(*outputs: str) -> str:
    """The issues Zensical reported, on one line (`anchor does not exist (page.md:3:5); ...`);
    else the last lines of its output."""
    lines = ANSI.sub("", "\n".join(outputs)).splitlines()
    issues = []
    for number, line in enumerate(lines):
        found = ISSUE.match(line.strip())
        if found:
            place = PLACE.search(lines[number + 1]) if number + 1 < len(lines) else None
            issues.append(found.group(1) + (f" ({place.group(1)})" if place else ""))
    if issues:
        more = f" and {len(issues) - 3} more" if len(issues) > 3 else ""
        return "; ".join(issues[:3]) + more
    return " / ".join(line.strip() for line in lines if line.strip())[-300:]


def build_with(engine: str, config_file: Path) -> None:
    """Build the site `config_file` describes with `engine` (one of `ENGINES`).

    Raises:
        SiteError: the engine reported a warning or an error, or `engine` is unknown.
    """
    builders = {"mkdocs": build_with_mkdocs, "zensical": build_with_zensical}
    if engine not in builders:
        raise SiteError(f"unknown site engine {engine!r}; choose one of {', '.join(ENGINES)}")
    builders[engine](config_file)
