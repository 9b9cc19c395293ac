"""What is wrong with a set of routing rules: ``RuleProblem`` (where, which field, an English message for logs and
the command line, and a ``code`` with its ``args`` that the pages turn into the admin's language —
``routing/views_rule_problems.py``), ``RuleSetError`` carrying them, and the reading of pydantic's errors.

Pure: values in, values out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Args = tuple[tuple[str, str], ...]


def args_of(**values: object) -> Args:
    """A problem's parameters as a hashable tuple of strings (what the texts fill in)."""
    return tuple((k, v if isinstance(v, str) else str(v)) for k, v in values.items())


@dataclass(frozen=True, slots=True)
class RuleProblem:
    rule: str | None  # 'rules[3] "center-sale"', 'territory "center"', 'default', or None for the file
    field: str
    message: str
    code: str = ""  # a key of the problems' texts ('' : only the English message is known)
    args: Args = ()

    def __str__(self) -> str:
        where = " ".join(part for part in (self.rule, f"field {self.field}" if self.field else "") if part)
        return f"{where}: {self.message}" if where else self.message


class RuleSetError(ValueError):
    """The rules were not loaded; ``problems`` names each rule and field at fault."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("routing rules rejected:\n" + "\n".join(f"  - {p}" for p in self.problems))


_TOML_AT = re.compile(r"line (\d+), column (\d+)")


def toml_problem(exc: Exception) -> RuleProblem:
    """A text that is not TOML, with the line and column when the parser gave them."""
    at = _TOML_AT.search(str(exc))
    return RuleProblem(None, "", f"not valid TOML: {exc}", "toml_at" if at else "toml",
                       args_of(line=at[1], column=at[2]) if at else ())


def problem_from_pydantic(error: Mapping[str, Any], data: Mapping[str, Any]) -> RuleProblem:
    """Turn one pydantic error into 'rules[3] "center-sale" field when.districs: unknown field'; its ``type``
    (``extra_forbidden``, ``literal_error``, a rule's own check such as ``price_range``) is the code."""
    loc = list(error.get("loc", ()))
    kind = str(error.get("type", "value_error"))
    message = "unknown field" if kind == "extra_forbidden" else str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    where: str | None = None
    if len(loc) >= 2 and loc[0] in ("rules", "territories") and isinstance(loc[1], int):
        section, i = loc[0], loc[1]
        raw = data.get(section)
        item = raw[i] if isinstance(raw, list) and i < len(raw) else None
        ident = item.get("id") if isinstance(item, Mapping) else None
        where = f"{section}[{i}]" + (f' "{ident}"' if isinstance(ident, str) else "")
        loc = loc[2:]
    elif loc and loc[0] == "default":
        where, loc = "default", loc[1:]
    # pydantic adds the union/literal branch name for some errors; drop what is not a field name
    field = ".".join(str(part) for part in loc if not str(part).startswith(("function-", "literal[")))
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if k != "error"}
    return RuleProblem(where, field, message, kind, args_of(**ctx))
