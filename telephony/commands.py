"""What ``TelephonyService`` asks of the PBX: click-to-call (``originate``), blind ``transfer``, queue
``pause``, and the FastAGI ``owner-first`` answer (the owner's device when the owner is free, else the queue).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from connectors.asterisk.client import AmiClient
from connectors.asterisk.errors import AmiActionTimeout, AmiError, AmiLinkLost
from connectors.asterisk.settings import AsteriskSettings
from crm_core.phones import try_normalize_phone
from telephony.call_log import Owner
from telephony.calls import CallState
from telephony.model import Attempt, Call, Effect
from telephony.originate import originate_failed, originate_sent

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
                        task_id: int | None = None, client_id: int | None = None,
                        region: str = "RU") -> OriginateResult:
        """Click-to-call: the agent's phone rings first, then Asterisk dials the client.

        The attempt is remembered by its ActionID before it goes out, so whatever comes back (the agent's
        channel, ``OriginateResponse`` success or failure, a refusal, the link dropping) it is one outbound
        call with the agent and the client, inquiry and task it was made from."""
        target = try_normalize_phone(number, region)
        if target is None:
            return OriginateResult(False, "invalid_number")
        ids = {"CRM_INQUIRY_ID": inquiry_id, "CRM_CLIENT_ID": client_id, "CRM_TASK_ID": task_id}
        variables = [f"{name}={value}" for name, value in ids.items() if value]
        action_id = f"hub-{uuid.uuid4().hex}"
        channel = self.settings.agent_channel.format(extension=extension)
        fields = {
            "Action": "Originate", "ActionID": action_id, "Channel": channel,
            "Context": self.settings.originate_context, "Exten": _dialable(target), "Priority": "1",
            "CallerID": extension, "Async": "true", "Timeout": "30000",
        }
        if variables:
            fields["Variable"] = ",".join(variables)
        attempt = Attempt(action_id, channel, extension, target, self.settings.originate_context, self.clock(),
                          *(str(x) if x else None for x in (inquiry_id, client_id, task_id)))
        self.calls, effects = originate_sent(self.calls, attempt)
        self._carry_out(effects)
        try:
            await self.client.send(fields, as_list=False)
        except AmiActionTimeout as exc:  # it may still happen: its channel or response settles it
            log.warning("originate action=%s ext=%s inquiry=%s unanswered: %s", action_id, extension, inquiry_id, exc)
            return OriginateResult(False, str(exc))
        except AmiError as exc:
            lost = isinstance(exc, AmiLinkLost)  # sent, unanswered: the PBX may have it
            log.warning("originate action=%s ext=%s inquiry=%s failed: %s", action_id, extension, inquiry_id, exc)
            self.calls, effects = originate_failed(self.calls, action_id, self.clock(), lost=lost)
            self._carry_out(effects)
            return OriginateResult(False, str(exc))
        log.info("originate action=%s ext=%s inquiry=%s client=%s task=%s queued", action_id, extension,
                 inquiry_id, client_id, task_id)
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

