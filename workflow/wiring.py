"""``wire(hub)``: the workflow service on the bus (and the PBX); ``VIEWS``: its pages."""

from __future__ import annotations

from bus.events import InquiryOpened, MessageReceived
from workflow.service import WorkflowService
from workflow.settings import WorkflowSettings

VIEWS = ("workflow.views_moderation", "workflow.views_quality", "workflow.views_scripts")


def wire(hub) -> WorkflowService:  # noqa: ANN001 - bootstrap.Hub
    settings = getattr(hub.settings, "workflow", None) or WorkflowSettings()
    service = WorkflowService(hub, settings)
    hub.intake.moderation_gate = service.gate
    hub.bus.subscribe(MessageReceived, service.on_call_inquiry)
    hub.bus.subscribe(InquiryOpened, service.on_opened)
    hub.connectors["workflow"] = service
    return service
