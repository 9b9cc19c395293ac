"""The call-script editor's form, row by row (no text format to learn): steps with a question, fields to fill
and answers leading to another step or to the end. Pure: the posted rows in, the steps and per-field error
codes out; buttons that add, remove or move a row change the rows and show the form again, unsaved.

Posted names: ``step_id``, ``question``, ``step_fields`` (one each per step, in order), ``answer_text-<i>`` and
``answer_next-<i>`` (the answers of step ``i``), ``op`` (``add_step``, ``add_answer:<i>``, ``remove:<i>``,
``up:<i>``, ``down:<i>``, ``save``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from workflow.scripts import MAX_STEPS

STEP_ID = re.compile(r"^[\w-]{1,40}$")
MAX_ANSWERS = 20
MAX_FIELDS = 20

GetAll = Callable[[str], Sequence[str]]


def rows_from_form(getall: GetAll) -> list[dict]:
    """The steps as the form holds them (blank answers dropped; blank steps kept until saving)."""
    ids, questions, fields = getall("step_id"), getall("question"), getall("step_fields")
    rows = []
    for i in range(min(max(len(ids), len(questions)), MAX_STEPS + 1)):
        texts, nexts = getall(f"answer_text-{i}"), getall(f"answer_next-{i}")
        answers = [{"text": str(t).strip()[:300], "next": (str(nexts[j]).strip() if j < len(nexts) else "") or None}
                   for j, t in enumerate(texts[:MAX_ANSWERS]) if str(t).strip()]
        rows.append({
            "id": str(ids[i] if i < len(ids) else "").strip()[:40],
            "question": str(questions[i] if i < len(questions) else "").strip()[:500],
            "fields": [f.strip()[:100] for f in str(fields[i] if i < len(fields) else "").split(",")
                       if f.strip()][:MAX_FIELDS],
            "answers": answers})
    return rows


def apply_op(rows: list[dict], op: str) -> list[dict]:
    """Add, remove, move a step; ``add_answer`` changes nothing: the form shows a blank answer row anyway."""
    rows = [dict(r) for r in rows]
    name, _, arg = op.partition(":")
    i = int(arg) if arg.isdigit() else -1
    if name == "add_step" and len(rows) < MAX_STEPS:
        rows.append({"id": "", "question": "", "fields": [], "answers": []})
    elif name == "remove" and 0 <= i < len(rows):
        del rows[i]
    elif name == "up" and 0 < i < len(rows):
        rows[i - 1], rows[i] = rows[i], rows[i - 1]
    elif name == "down" and 0 <= i < len(rows) - 1:
        rows[i + 1], rows[i] = rows[i], rows[i + 1]
    return rows


def _new_id(taken: set[str]) -> str:
    n = 1
    while f"шаг{n}" in taken:
        n += 1
    return f"шаг{n}"


def validate(rows: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """The steps to store, and the errors by field (``question-<i>``, ``step_id-<i>``, ``answer-<i>-<j>``,
    ``steps``) as text keys; a step with neither a question nor answers is dropped."""
    errors: dict[str, str] = {}
    kept = [r for r in rows if r["question"] or r["answers"] or r["fields"]]
    taken = {r["id"] for r in kept if r["id"]}
    steps: list[dict] = []
    for i, row in enumerate(kept):
        step_id = row["id"]
        if not step_id:
            step_id = _new_id(taken)
            taken.add(step_id)
        elif not STEP_ID.match(step_id):
            errors[f"step_id-{i}"] = "scripts.err.step_id"
        elif any(s["id"] == step_id for s in steps):
            errors[f"step_id-{i}"] = "scripts.err.step_twice"
        if not row["question"]:
            errors[f"question-{i}"] = "scripts.err.question"
        steps.append({"id": step_id, "question": row["question"], "fields": row["fields"],
                      "answers": [dict(a) for a in row["answers"]]})
    ids = {s["id"] for s in steps}
    for i, step in enumerate(steps):
        for j, answer in enumerate(step["answers"]):
            if answer["next"] in ("end", "конец"):
                answer["next"] = None
            if answer["next"] is not None and answer["next"] not in ids:
                errors[f"answer-{i}-{j}"] = "scripts.err.next"
            elif answer["next"] == step["id"]:
                errors[f"answer-{i}-{j}"] = "scripts.err.loop"
    if not steps:
        errors["steps"] = "scripts.err.no_steps"
    return steps, errors
