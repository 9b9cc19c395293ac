from bus.bus import EventBus
from bus.tasks import TaskSupervisor

__all__ = ["EventBus", "TaskSupervisor"]
