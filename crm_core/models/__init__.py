"""All tables of the CRM core; importing this module registers them on ``Base.metadata``.

The core tables are named below; a capability's own tables live in their own module here and are
imported at the end, so that the metadata (and Alembic's comparison) always holds every table.
"""

import importlib
import pkgutil

from crm_core.models.base import (
    AgentStatus,
    Base,
    Channel,
    ContactKind,
    InquiryStatus,
    Pool,
    Role,
    utcnow,
)
from crm_core.models.clients import Client, Contact, MemorableDate, Segment, client_segments
from crm_core.models.org import ConnectorState, Department, Division, Team, User, WebSession, team_members
from crm_core.models.telephony import Call, Recording, Transcript
from crm_core.models.work import (
    Inquiry,
    InquiryEvent,
    Message,
    Property,
    RoutingDecision,
    Task,
    TimelineEntry,
)

__all__ = [
    "AgentStatus", "Base", "Call", "ConnectorState", "Channel", "Client", "Contact", "ContactKind", "Department",
    "Division", "Inquiry", "InquiryEvent", "InquiryStatus", "MemorableDate", "Message", "Pool",
    "Property", "Recording", "Role", "RoutingDecision", "Segment", "Task", "Team", "TimelineEntry",
    "Transcript", "User", "WebSession", "client_segments", "team_members", "utcnow",
]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
