"""How the hub reaches one Asterisk over AMI. The secret only from the configuration or the environment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AsteriskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=0, le=65535)
    username: str = "hub"
    secret: SecretStr | None = None
    fallback_charset: str = Field(default="cp1251", description="For frames that are not UTF-8 (an old PBX)")
    max_frame_bytes: int = Field(default=1024 * 1024, ge=4096, description="Cap of one frame and of the buffer")
    connect_timeout_s: float = Field(default=5.0, gt=0)
    ping_interval_s: float = Field(default=5.0, gt=0, description="A Ping this often…")
    ping_timeout_s: float = Field(default=5.0, gt=0, description="…unanswered this long means a dead link")
    action_timeout_s: float = Field(default=10.0, gt=0)
    backoff_initial_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    agent_channel: str = Field(default="PJSIP/{extension}", description="The agent's device for click-to-call")
    member_interface: str = Field(default="Local/{extension}@agents/n",
                                  description="The agent's queue member interface (for QueuePause)")
    queue_names: dict[str, str] = Field(default_factory=dict, description=(
        "Display names of the PBX queues, e.g. {sales = \"Продажи\"} (without one, a Russian guess)"))
    originate_context: str = "outbound"
    transfer_context: str = "agents"
    recordings_dir: str = Field(default="/var/spool/asterisk/monitor", description="Where MixMonitor writes")
    fastagi_enabled: bool = Field(default=False, description="Answer the dialplan's owner-first question")
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = Field(default=4573, ge=0, le=65535)
    owner_first: bool = Field(default=True, description="Offer a repeat caller to the owner agent first")
    callback_delay_s: float = Field(default=900.0, ge=0, description="Between callback attempts")
    callback_attempts: int = Field(default=3, ge=1)
    join_window_days: float = Field(default=30.0, ge=0, description=(
        "A call joins the caller's open inquiry of the same department active within this many days "
        "(0: every call opens an inquiry of its own)"))
    demo: bool = Field(default=False, description="Run the built-in fake PBX looping the real traces")
    demo_traces: tuple[str, ...] = ("answered.txt", "abandon_rna.txt", "ring_no_answer.txt", "transfer.txt",
                                   "outbound.txt")
    demo_pause_s: float = Field(default=8.0, ge=0, description="Quiet time between demo calls")
