"""Call scripts: branching steps (question → answers → next step, with fields to fill) chosen by the call's
queue or the inquiry's channel; the agent's answers are stored on the inquiry and its client's timeline.

The editor's text form, one step after another::

    # start: Вы звоните по объявлению?
    fields: Имя, Бюджет
    - Да -> district
    - Нет -> end

    # district: Какой район?
    - Центр
    - Другой -> end

``# id: question`` opens a step (the first is where the script starts), ``fields:`` (or ``поля:``) lists what to
fill, ``- answer -> next`` gives an answer and the step it leads to (none or ``end``: the script ends).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import Call, Channel, Inquiry, InquiryEvent, TimelineEntry, utcnow
from crm_core.models.workflow import CallScript, ScriptRun

log = logging.getLogger("hub.workflow.scripts")
STEP_RE = re.compile(r"^#\s*([\w-]{1,40})\s*:\s*(.+)$")
FIELDS_RE = re.compile(r"^(fields|поля)\s*:\s*(.*)$", re.IGNORECASE)
END = "end"
MAX_STEPS = 100


class ScriptError(ValueError):
    pass


def parse_steps(text: str) -> list[dict]:
    steps: list[dict] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if m := STEP_RE.match(line):
            if any(s["id"] == m.group(1) for s in steps):
                raise ScriptError(f"line {n}: step «{m.group(1)}» twice")
            steps.append({"id": m.group(1), "question": m.group(2).strip()[:500], "fields": [], "answers": []})
            continue
        if not steps:
            raise ScriptError(f"line {n}: a script begins with a step: # id: question")
        if m := FIELDS_RE.match(line):
            steps[-1]["fields"] = [f.strip()[:100] for f in m.group(2).split(",") if f.strip()][:20]
        elif line.startswith("-"):
            answer, _, nxt = line[1:].partition("->")
            if not answer.strip():
                raise ScriptError(f"line {n}: an answer without text")
            steps[-1]["answers"].append({"text": answer.strip()[:300], "next": nxt.strip() or None})
        else:
            raise ScriptError(f"line {n}: expected «# id: question», «fields: …» or «- answer -> step»")
    if not steps:
        raise ScriptError("a script needs at least one step")
    if len(steps) > MAX_STEPS:
        raise ScriptError(f"at most {MAX_STEPS} steps")
    ids = {s["id"] for s in steps}
    for step in steps:
        for answer in step["answers"]:
            if answer["next"] in (END, "конец"):
                answer["next"] = None
            if answer["next"] is not None and answer["next"] not in ids:
                raise ScriptError(f"step «{step['id']}»: the answer «{answer['text']}» leads to an unknown step "
                                  f"«{answer['next']}»")
    return steps


def format_steps(steps: list[dict]) -> str:
    blocks = []
    for step in steps:
        lines = [f"# {step['id']}: {step['question']}"]
        if step.get("fields"):
            lines.append("fields: " + ", ".join(step["fields"]))
        lines += [f"- {a['text']}" + (f" -> {a['next']}" if a.get("next") else "") for a in step["answers"]]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def split_list(text: str) -> list[str]:
    return [v.strip()[:80] for v in re.split(r"[,\n]", text) if v.strip()][:50]


async def script_for(s: AsyncSession, *, queue: str | None, channel: str | None) -> CallScript | None:
    """The script for a call's queue (first), else for the inquiry's channel; the lowest id wins a tie."""
    scripts = (await s.execute(select(CallScript).where(CallScript.active.is_(True)).order_by(CallScript.id))
               ).scalars().all()
    if queue:
        for script in scripts:
            if queue in (script.queues or []):
                return script
    if channel:
        for script in scripts:
            if channel in (script.channels or []):
                return script
    return None


def clean_answers(script: CallScript, answers: object) -> list[dict]:
    """The agent's path as sent by the page, kept only where it follows the script (steps, answers and fields
    that exist; a field's value up to 1000 characters)."""
    if not isinstance(answers, list):
        raise ScriptError("answers must be a list")
    steps = {s["id"]: s for s in script.steps}
    out = []
    for entry in answers[:MAX_STEPS]:
        if not isinstance(entry, dict):
            raise ScriptError("an answer must be an object")
        step = steps.get(str(entry.get("step")))
        if step is None:
            raise ScriptError("an answer names an unknown step")
        answer = entry.get("answer")
        if answer is not None and answer not in [a["text"] for a in step["answers"]]:
            raise ScriptError("an answer the step does not offer")
        raw_fields = entry.get("fields") if isinstance(entry.get("fields"), dict) else {}
        fields = {k: str(raw_fields.get(k) or "")[:1000] for k in step["fields"] if str(raw_fields.get(k) or "")}
        out.append({"step": step["id"], "question": step["question"], "answer": answer, "fields": fields})
    if not out:
        raise ScriptError("no answers")
    return out


def summary(script_name: str, answers: list[dict]) -> str:
    parts = []
    for a in answers:
        text = f"{a['question']} — {a['answer'] or ''}".rstrip(" —")
        if a["fields"]:
            text += " (" + "; ".join(f"{k}: {v}" for k, v in a["fields"].items()) + ")"
        parts.append(text)
    return f"{script_name}: " + " · ".join(parts)


@dataclass(frozen=True, slots=True)
class Stored:
    run_id: int
    inquiry_id: int | None


async def store_run(sessions: async_sessionmaker[AsyncSession], script: CallScript, answers: list[dict], *,
                    agent_id: int, inquiry_id: int | None, linkedid: str | None) -> Stored:
    """Keep the answers; on the inquiry at once when it is known, else when the call's inquiry opens."""
    now = utcnow()
    async with sessions() as s, s.begin():
        if inquiry_id is None and linkedid:
            inquiry_id = await _call_inquiry(s, linkedid)
        run = ScriptRun(script_id=script.id, script_name=script.name, inquiry_id=inquiry_id, linkedid=linkedid,
                        agent_id=agent_id, answers=answers, created_at=now)
        s.add(run)
        await s.flush()
        if inquiry_id is not None:
            await _on_inquiry(s, run, inquiry_id, now)
        return Stored(run.id, inquiry_id)


async def _call_inquiry(s: AsyncSession, linkedid: str) -> int | None:
    """The inquiry of a call: linked by the call log, or opened by the intake with the linkedid as its id."""
    found = (await s.execute(select(Call.inquiry_id).where(Call.linkedid == linkedid, Call.inquiry_id.is_not(None))
                             .order_by(Call.id).limit(1))).scalar_one_or_none()
    if found is not None:
        return found
    return (await s.execute(select(Inquiry.id).where(Inquiry.channel == Channel.CALL, Inquiry.external_id == linkedid))
            ).scalar_one_or_none()


async def _on_inquiry(s: AsyncSession, run: ScriptRun, inquiry_id: int, now: object) -> None:
    inquiry = await s.get(Inquiry, inquiry_id)
    if inquiry is None:
        return
    run.inquiry_id, run.attached_at = inquiry_id, now
    text = summary(run.script_name, run.answers)
    s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=run.agent_id, kind="script_answers", note=text,
                       data={"script_run": run.id, "answers": run.answers}))
    s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="script_answers", channel=inquiry.channel,
                        inquiry_id=inquiry_id, ref_id=run.id, summary=text[:2000], actor_id=run.agent_id))


async def attach_waiting(sessions: async_sessionmaker[AsyncSession], linkedid: str) -> int:
    """A call's inquiry opened (or its call was stored): the runs that waited by its linkedid go on it."""
    now = utcnow()
    async with sessions() as s, s.begin():
        runs = (await s.execute(select(ScriptRun).where(ScriptRun.linkedid == linkedid,
                                                        ScriptRun.inquiry_id.is_(None)))).scalars().all()
        if not runs:
            return 0
        inquiry_id = await _call_inquiry(s, linkedid)
        if inquiry_id is None:
            return 0
        for run in runs:
            await _on_inquiry(s, run, inquiry_id, now)
    log.info("script runs of call linkedid=%s stored on inquiry=%s: %d", linkedid, inquiry_id, len(runs))
    return len(runs)


async def runs_of(s: AsyncSession, inquiry_id: int) -> list[ScriptRun]:
    return list((await s.execute(select(ScriptRun).where(ScriptRun.inquiry_id == inquiry_id)
                                 .order_by(ScriptRun.id))).scalars())


async def deactivate(s: AsyncSession, script_id: int) -> None:
    await s.execute(update(CallScript).where(CallScript.id == script_id).values(active=False, updated_at=utcnow()))

