"""Reading program documents from YAML or JSON text, numbers as exact decimals."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from ._program import Program, ProgramError, parse_program

__all__ = ["dump_program", "load_program", "read_document"]


class _DecimalLoader(yaml.SafeLoader):
    """YAML SafeLoader that reads `7.5` as Decimal('7.5') instead of a float."""


_SPECIAL = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    try:
        # `.inf` and `.nan` become Decimal specials, which the models then refuse with a field path.
        return Decimal(_SPECIAL.get(text.lower(), text))
    except InvalidOperation:  # e.g. YAML 1.1 sexagesimal `1:30.5`: an ArithmeticError, not a ValueError
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a decimal number", node.start_mark
        ) from None


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def read_document(text: str | bytes, fmt: str) -> Any:
    """Parse `text` as `fmt` ('yaml' or 'json'); syntax errors become ProgramError."""
    try:
        if fmt == "json":
            return json.loads(text, parse_float=Decimal)
        return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except (ValueError, yaml.YAMLError) as error:
        raise ProgramError([{"path": "(document)", "message": f"not valid {fmt.upper()}: {error}"}]) from None


def load_program(text: str | bytes, fmt: str) -> Program:
    return parse_program(read_document(text, fmt))


def dump_program(program: Program, fmt: str) -> str:
    document = program.document()
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
