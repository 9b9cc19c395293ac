"""What ``TelephonyService`` asks of the PBX: click-to-call (``originate``), blind ``transfer``, queue
``pause``, and the FastAGI ``owner-first`` answer (the owner's device when the owner is free, else the queue).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from connectors.asterisk.client import AmiClient
from connectors.asterisk.errors import AmiError
from connectors.asterisk.settings import AsteriskSettings
from crm_core.phones import try_normalize_phone
from telephony.call_log import Owner
from telephony.calls import CallState, failed_originate
from telephony.model import Call, Effect

log = logging.getLogger("hub.telephony")


@dataclass(frozen=True, slots=True)
class OriginateResult:
    ok: bool
    message: str


class PbxCommands:
    """``TelephonyService``'s commands out; the service holds the AMI session, the settings and the calls."""

    settings: AsteriskSettings
    client: AmiClient
    calls: CallState
    clock: Callable[[], float]
    find_owner: Callable[[str], Awaitable[Owner | None]] | None
    _carry_out: Callable[[tuple[Effect, ...]], None]

    async def pause(self, extension: str, paused: bool, reason: str | None = None) -> OriginateResult:
        """The agent's break in the hub pauses their queue membership on the PBX (and back)."""
        fields = {"Action": "QueuePause", "Interface": self.settings.member_interface.format(extension=extension),
                  "Paused": "true" if paused else "false"}
        if reason:
            fields["Reason"] = reason
        try:
            await self.client.send(fields)
        except AmiError as exc:
            log.warning("queue pause ext=%s paused=%s failed: %s", extension, paused, exc)
            return OriginateResult(False, str(exc))
        log.info("queue pause ext=%s paused=%s reason=%s", extension, paused, reason)
        return OriginateResult(True, "sent")

    async def originate(self, extension: str, number: str, *, inquiry_id: int | None = None,
                        task_id: int | None = None, region: str = "RU") -> OriginateResult:
        """Click-to-call: the agent's phone rings first, then Asterisk dials the client."""
        target = try_normalize_phone(number, region)
        if target is None:
            return OriginateResult(False, "invalid_number")
        variables = [f"CRM_INQUIRY_ID={inquiry_id}"] if inquiry_id else []
        if task_id:
            variables.append(f"CRM_TASK_ID={task_id}")
        fields = {
            "Action": "Originate", "Channel": self.settings.agent_channel.format(extension=extension),
            "Context": self.settings.originate_context, "Exten": _dialable(target), "Priority": "1",
            "CallerID": extension, "Async": "true", "Timeout": "30000",
        }
        if variables:
            fields["Variable"] = ",".join(variables)
        try:
            await self.client.send(fields, as_list=False)
        except AmiError as exc:
            log.warning("originate ext=%s inquiry=%s failed: %s", extension, inquiry_id, exc)
            for effect in failed_originate(fields, {"Response": "Error"}, self.clock()):
                self._carry_out((effect,))
            return OriginateResult(False, str(exc))
        log.info("originate ext=%s inquiry=%s task=%s queued", extension, inquiry_id, task_id)
        return OriginateResult(True, "queued")

    async def transfer(self, linkedid: str, extension: str) -> OriginateResult:
        """Blind transfer: the caller's channel goes to another agent's extension."""
        call = self.calls.calls.get(linkedid)
        if call is None or not call.channel:
            return OriginateResult(False, "no_such_call")
        try:
            await self.client.send({"Action": "Redirect", "Channel": call.channel,
                                    "Context": self.settings.transfer_context, "Exten": extension, "Priority": "1"})
        except AmiError as exc:
            log.warning("transfer linkedid=%s to=%s failed: %s", linkedid, extension, exc)
            return OriginateResult(False, str(exc))
        log.info("transfer linkedid=%s to=%s sent", linkedid, extension)
        return OriginateResult(True, "sent")

    async def owner_first(self, headers: Mapping[str, str]) -> dict[str, str]:
        """FastAGI ``owner-first``: the owner's device when the owner is free, else nothing (the queue)."""
        caller = headers.get("agi_callerid", "")
        owner = await self.find_owner(caller) if self.find_owner and self.settings.owner_first and caller else None
        reason = _owner_unavailable(owner, self.call_of_agent)
        if owner is None or reason is not None or owner.extension is None:
            log.info("owner-first uniqueid=%s caller=%s: to the queue (%s)", headers.get("agi_uniqueid"), caller,
                     reason or "no owner")
            return {"OWNER_DEVICE": ""}
        device = self.settings.agent_channel.format(extension=owner.extension)
        log.info("owner-first uniqueid=%s caller=%s: owner %s at %s", headers.get("agi_uniqueid"), caller,
                 owner.user_id, device)
        return {"OWNER_DEVICE": device, "OWNER_EXTENSION": owner.extension}

    def call_of_agent(self, extension: str) -> Call | None:
        for call in self.calls.calls.values():
            if call.answered_by == extension or extension in call.ringing:
                return call
        return None


def _owner_unavailable(owner: Owner | None, call_of_agent: Callable[[str], Call | None]) -> str | None:
    if owner is None:
        return "no owner"
    if not owner.active or not owner.extension:
        return "owner has no phone"
    if owner.status != "available":
        return f"owner is {owner.status}"
    if call_of_agent(owner.extension) is not None:
        return "owner is on a call"
    return None


def _dialable(e164: str) -> str:
    """What the trunk dials: Russian numbers in the national 8-prefix form, as the traces show."""
    return "8" + e164[2:] if e164.startswith("+7") else e164.lstrip("+")

