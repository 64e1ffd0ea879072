"""Loading a saved Keras model for `course math` and friends, safely by default."""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator.exceptions import ModelFileError, error_summary

#: The first bytes of an HDF5 file: Keras 2's legacy `.h5` model format.
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def load_model(path: str | Path, unsafe: bool = False) -> Any:
    """Load `path` (a `.keras` file) with Keras's safe mode on unless `unsafe`.

    The archive is checked before Keras sees it, so a file that is not a model fails fast and
    without importing TensorFlow. With `unsafe`, warning the user is the caller's job (the CLI
    prints one line).

    Raises:
        ModelFileError: one line naming the file, for a missing file, a file that is not a
            Keras model, or a model that needs custom objects or code to load.
    """
    path = Path(path)
    config = read_config(path)
    _quiet_keras()
    import keras

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras's own load warnings are not for this user
            return keras.saving.load_model(path, safe_mode=not unsafe, compile=False)
    except Exception as exc:  # noqa: BLE001 - any load failure is one line for the user
        raise ModelFileError(_load_failure(path, config, exc, keras, unsafe)) from None


def read_config(path: Path) -> dict[str, Any]:
    """The model's `config.json` from a `.keras` archive, or a one-line error naming the file."""
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if path.is_file() and _is_hdf5(path):
        converted = path.with_suffix(".keras")
        raise ModelFileError(
            f"{path}: a model in the legacy HDF5 format (Keras 2's .h5), not a .keras archive; "
            f"convert it once with: python -c \"import keras; keras.models.load_model('{path}', "
            f"compile=False).save('{converted}')\""
        )
    if path.is_dir() or not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras model file (expected a .keras zip archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                raise ModelFileError(f"{path}: not a Keras model file (no config.json inside)")
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(
            f"{path}: not a Keras model file (config.json is not valid JSON)"
        ) from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFileError(f"{path}: not a Keras model file (config.json names no model class)")
    return config


def _is_hdf5(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE


def _quiet_keras() -> None:
    """Keep TensorFlow's start-up chatter off stderr, where our one error line goes.

    TensorFlow's own settings (oneDNN among them) are the user's: loading a file must not
    change which kernels TensorFlow runs, or a model would compute differently (or not at all:
    without oneDNN a dilated Conv2DTranspose has no CPU kernel) depending on what was imported
    first.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _load_failure(
    path: Path, config: dict[str, Any], exc: Exception, keras: Any, unsafe: bool
) -> str:
    """One line saying why Keras could not load the file."""
    if not unsafe and any(obj.get("class_name") == "Lambda" for obj in _objects(config)):
        return (
            f"{path}: the model holds code (a Lambda layer) that safe mode will not run; "
            "pass --unsafe if you trust the file"
        )
    missing = [name for name in _custom_names(config) if not _registered(name, keras)]
    if missing:
        return (
            f"{path}: needs custom objects that are not registered here: "
            f"{', '.join(sorted(set(missing)))}; import the code that defines them "
            "(`@keras.saving.register_keras_serializable`) before loading, e.g. with "
            "`--import MODULE_OR_FILE`"
        )
    message = error_summary(str(exc)) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause).strip() and str(cause).strip() not in message:
        message += f" (caused by {type(cause).__name__}: {error_summary(str(cause))})"
    return f"{path}: cannot load: {message}"


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every serialized object (a dict with a `class_name`) in a config, depth first."""
    if isinstance(value, dict):
        if "class_name" in value:
            yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _custom_names(config: dict[str, Any]) -> Iterator[str]:
    for obj in _objects(config):
        name = obj.get("registered_name")
        module = obj.get("module") or ""
        if name and not module.startswith("keras"):
            yield name


def _registered(name: str, keras: Any) -> bool:
    return keras.saving.get_registered_object(name) is not None
