"""Reading a `torch.export.save` archive (`.pt2`) without letting anything in it run as code.

`torch.export.load` is not safe on an untrusted file by itself (torch 2.13, read in
`torch/export/pt2_archive/_package.py` and `torch/_export/serde/serialize.py`):
- weights and constants flagged `use_pickle`, and a legacy `weights/<model>.pt`, go through
  `torch.load(..., weights_only=False)`: arbitrary unpickling;
- constants stored as custom or opaque objects go through `torch._C._pickle_load_obj` and
  `pickle.loads`;
- the sample inputs (`data/sample_inputs/<model>.pt`) go through `torch.load(weights_only=True)`
  and, when that fails, again with `weights_only=False`;
- every symbolic-shape expression (`expr_str`) is parsed with `sympy.sympify`, which `eval`s it;
- `guards_code` is compiled into a Python function by `ExportedProgram.module()`;
- an archive in the pre-2.8 layout takes an older loader.

So `load_exported` screens the archive first, with `zipfile` and `json` only: it accepts the
current layout (`archive_format` is `pt2`), no AOTInductor payload, no extra model, every weight
and constant stored as raw bytes (no `use_pickle`, no custom or opaque objects), sample inputs that
`torch.load(weights_only=True)` reads (tensors and containers only), every `expr_str` made of
numbers, operators and names that cannot reach Python's builtins, and no `guards_code`. What
remains is deserialised from JSON and raw tensor bytes. Node targets are resolved by name on the
`torch` and `operator` modules, which runs nothing; the probe runs only ATen operators
(`generator.model.torch_probe`) and never calls `ExportedProgram.module()`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator.exceptions import ModelFileError

INSTALL_HINT = "install PyTorch: pip install -e '.[torch]'"

#: A symbolic-shape expression: numbers, operators, shape symbols (`s0`, `u3`) and sympy's
#: capitalised function names (`Max`, `FloorDiv`). No dots, quotes, dunders or lower-case
#: builtins, so `sympify`'s `eval` cannot reach anything but arithmetic.
_SAFE_EXPRESSION = re.compile(r"^(?:[0-9.+\-*/%(), <>=!&|~]|\b[a-z]+[0-9]+\b|\b[A-Z][A-Za-z]*\b)*$")


def import_torch() -> Any:
    """`torch`, or a one-line error saying how to install it."""
    try:
        import torch
    except ImportError:
        raise ModelFileError(INSTALL_HINT) from None
    return torch


def load_exported(path: str | Path) -> Any:
    """Load a `torch.export.save` archive as an `ExportedProgram`, after screening it.

    Raises:
        ModelFileError: one line naming the file: missing, not a `.pt2` archive, holding
            something that would run as code on loading, or PyTorch not installed.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if path.is_dir() or not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a PyTorch export (expected a .pt2 zip archive)")
    try:
        torch = import_torch()
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: a PyTorch model; {exc.message}") from None
    try:
        with zipfile.ZipFile(path) as archive:
            screen_archive(archive, torch)
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{path}: not a PyTorch export ({exc})") from None
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc.message}") from None
    try:
        return torch.export.load(path)
    except Exception as exc:  # noqa: BLE001 - any load failure is one line for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: cannot load the PyTorch export: {first}") from None


def screen_archive(archive: zipfile.ZipFile, torch: Any) -> None:
    """Refuse an archive whose loading would unpickle objects or evaluate code (see module doc)."""
    names = archive.namelist()
    root = _root(names)
    if f"{root}archive_format" not in names:
        raise ModelFileError("not a PyTorch export (no archive_format: an older or other zip)")
    if archive.read(f"{root}archive_format").strip() != b"pt2":
        raise ModelFileError("not a PyTorch export (archive_format is not pt2)")
    if any(n.startswith(f"{root}data/aotinductor/") for n in names):
        raise ModelFileError("holds AOTInductor code, which this tool does not load")
    models = [n for n in names if n.startswith(f"{root}models/") and n.endswith(".json")]
    if [Path(m).stem for m in models] != ["model"]:
        raise ModelFileError("not a single exported program (expected models/model.json)")
    if f"{root}data/weights/model.pt" in names or f"{root}data/constants/model.pt" in names:
        raise ModelFileError("weights in the legacy pickled layout; re-save with torch 2.8+")
    for kind in ("weights", "constants"):
        config = _json(archive, f"{root}data/{kind}/model_{kind}_config.json")
        for fqn, entry in (config.get("config") or {}).items():
            path_name = str(entry.get("path_name", ""))
            if entry.get("use_pickle") or not path_name.startswith(("weight_", "tensor_")):
                raise ModelFileError(
                    f"{kind[:-1]} {fqn!r} is stored as a pickled object, which could run code"
                )
    sample = f"{root}data/sample_inputs/model.pt"
    if sample in names:
        try:
            torch.load(io.BytesIO(archive.read(sample)), weights_only=True)
        except Exception:  # noqa: BLE001 - whatever the reason, torch would unpickle it freely
            raise ModelFileError(
                "its sample inputs are not plain tensors (loading them could run code)"
            ) from None
    program = _json(archive, models[0])
    if program.get("guards_code"):
        raise ModelFileError("holds guard code, which loading would compile and run")
    for expression in _expressions(program):
        if not _SAFE_EXPRESSION.match(expression) or "__" in expression:
            raise ModelFileError(f"holds a shape expression that is not arithmetic: {expression!r}")


def _root(names: list[str]) -> str:
    """The folder every entry of the archive sits in (`model/`), `torch.export.save`'s layout."""
    first = names[0] if names else ""
    return first.split("/", 1)[0] + "/" if "/" in first else ""


def _json(archive: zipfile.ZipFile, name: str) -> dict:
    try:
        value = json.loads(archive.read(name))
    except KeyError:
        raise ModelFileError(f"not a PyTorch export (no {name.split('/', 1)[-1]})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"not a PyTorch export ({name} is not JSON)") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"not a PyTorch export ({name} is not a JSON object)")
    return value


def _expressions(value: Any) -> Iterator[str]:
    """Every `expr_str` in the serialized program, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "expr_str" and isinstance(item, str):
                yield item
            else:
                yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)
