"""Loading a saved Keras model for `course math` and friends, safely by default."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

from generator.exceptions import ModelFileError


def load_model(path: str | Path, unsafe: bool = False) -> Any:
    """Load `path` (a `.keras` file) with Keras's safe mode on unless `unsafe`.

    Raises:
        ModelFileError: one line naming the file, for a missing file, a file that is not a
            Keras model, or a model that needs custom objects or code to load.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if path.is_dir() or not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras model file (expected a .keras zip archive)")
    with zipfile.ZipFile(path) as archive:
        if "config.json" not in archive.namelist():
            raise ModelFileError(f"{path}: not a Keras model file (no config.json inside)")
    import keras

    if unsafe:
        warnings.warn(f"{path}: loading with safe_mode off runs code stored in the file",
                      stacklevel=2)
    try:
        return keras.saving.load_model(path, safe_mode=not unsafe, compile=False)
    except ValueError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "lambda" in message.lower() or "safe_mode" in message or "unsafe" in message.lower():
            raise ModelFileError(
                f"{path}: the model holds code (a Lambda layer) that safe mode will not run; "
                "pass --unsafe if you trust the file") from None
        raise ModelFileError(f"{path}: cannot load: {message}") from None
    except TypeError as exc:
        message = str(exc).strip().splitlines()[0]
        if "custom" in message.lower() or "Could not locate" in message:
            raise ModelFileError(f"{path}: needs custom objects to load: {message}") from None
        raise ModelFileError(f"{path}: cannot load: {message}") from None
    except Exception as exc:  # noqa: BLE001 - any load failure is one line for the user
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: cannot load: {message}") from None
