"""Typed hyperparameters: values travel as strings with a type name, and come back exactly."""

from __future__ import annotations

import argparse
import json
from typing import Any

_SCALAR_TYPES = (bool, int, float, str, type(None))


def encode_value(value: Any) -> dict[str, str]:
    """Encode one Python value as the API's `{"value": str, "type": name}`."""
    if isinstance(value, bool):
        return {"value": "True" if value else "False", "type": "bool"}
    if isinstance(value, int):
        return {"value": str(value), "type": "int"}
    if isinstance(value, float):
        return {"value": repr(value), "type": "float"}  # repr round-trips every float exactly
    if isinstance(value, str):
        return {"value": value, "type": "str"}
    if value is None:
        return {"value": "None", "type": "NoneType"}
    if isinstance(value, (list, tuple, dict)):
        try:
            return {"value": json.dumps(value), "type": type(value).__name__}
        except (TypeError, ValueError):
            pass
    return {"value": str(value), "type": type(value).__name__}


def decode_value(value: str, type_name: str) -> Any:
    """Rebuild a Python value from its encoded string and type name (unknown types stay strings)."""
    try:
        if type_name == "bool":
            return value.strip().lower() in ("true", "1", "yes")
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
        if type_name == "NoneType":
            return None if value in ("None", "") else value
        if type_name in ("list", "dict"):
            return json.loads(value)
        if type_name == "tuple":
            return tuple(json.loads(value))
    except (ValueError, TypeError):
        return value
    return value


def encode_section(values: dict[str, Any], descriptions: dict[str, str] | None = None) -> dict[str, dict]:
    """Encode a flat `{name: value}` mapping as one hyperparameter section."""
    out = {}
    for name, value in values.items():
        entry = encode_value(value)
        entry["description"] = (descriptions or {}).get(name, "")
        out[str(name)] = entry
    return out


def decode_section(section: dict[str, dict]) -> dict[str, Any]:
    """Decode one section from the server into `{name: value}`."""
    return {name: decode_value(entry.get("value", ""), entry.get("type", "str")) for name, entry in section.items()}


def object_values(obj: Any) -> dict[str, Any]:
    """The connectable values of a dict, argparse namespace or plain object."""
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, argparse.Namespace):
        return dict(vars(obj))
    names = [n for n in dir(obj) if not n.startswith("_")]
    values = {}
    for name in names:
        try:
            val = getattr(obj, name)
        except Exception:  # a property that raises is simply not a parameter
            continue
        if callable(val) or isinstance(val, type):
            continue
        values[name] = val
    return values


def apply_values(obj: Any, values: dict[str, Any]) -> None:
    """Write values back into a dict, namespace or object (the remote-run override)."""
    for name, value in values.items():
        if isinstance(obj, dict):
            obj[name] = value
        else:
            try:
                setattr(obj, name, value)
            except (AttributeError, TypeError):
                pass


def flatten_hyperparams(hyperparams: dict[str, dict[str, dict]]) -> dict[str, Any]:
    """`{"Section": {"name": entry}}` → ClearML's flat `{"Section/name": value}`."""
    flat = {}
    for section, entries in (hyperparams or {}).items():
        for name, value in decode_section(entries).items():
            flat[f"{section}/{name}"] = value
    return flat
