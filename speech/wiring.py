"""``speech_service(hub)``: transcription of finished calls; ``VIEWS``: the speech pages."""

from __future__ import annotations

from pathlib import Path

VIEWS = ("speech.views", "speech.views_words")


def speech_service(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    """Transcription of finished calls' recordings in worker processes (the model loaded once per worker)."""
    from speech.service import SpeechService

    settings = hub.settings.speech
    recordings = settings.recordings_dir or Path(hub.settings.asterisk.recordings_dir)
    return SpeechService(settings, hub.database.engine, hub.database.sessions, hub.bus, name=hub.instance,
                         recordings_dir=recordings)


def live_speech(hub):  # noqa: ANN001, ANN201 - bootstrap.Hub
    """Calls transcribed while they go on (AudioSocket per leg); listed phrases pushed to supervisors."""
    from speech.live import LiveFlag, LiveSpeech

    s = hub.settings.speech

    async def on_flag(flag: LiveFlag) -> None:
        from bus.events import Push

        ids = await live_flag_audience(hub, flag.linkedid)
        if ids:
            await hub.bus.publish(Push(user_ids=ids, kind="speech_live_flag", payload=flag.payload()))

    live = LiveSpeech(model_path=str(s.model_path), workers=s.live_workers, host=s.live_host, port=s.live_port,
                      phrases=s.phrases, buffer_s=s.live_buffer_s, chunk_s=s.live_chunk_ms / 1000,
                      answer_silence=s.live_answer_silence, on_flag=on_flag, decoder=s.live_decoder or None)
    post_call = hub.connectors.get("speech")
    if post_call is not None:
        post_call.live = live  # both legs heard whole: the post-call transcript is theirs
    return live


async def live_flag_audience(hub, linkedid: str | None) -> tuple[int, ...]:  # noqa: ANN001
    """Administrators, and the department heads and managers of the agent who answered the call (known from
    the PBX's live calls); a leg of an unknown call goes to administrators only."""
    from sqlalchemy import select

    from crm_core.models import Role, User

    extension = None
    if linkedid and hub.telephony is not None:
        call = next((c for c in hub.telephony.calls.calls.values() if c.linkedid == linkedid), None)
        extension = call.answered_by if call is not None else None
    async with hub.database.sessions() as session:
        dept = None
        if extension:
            dept = (await session.execute(select(User.department_id).where(User.extension == extension,
                                                                           User.is_active.is_(True)))).scalar()
        who = User.role == Role.ADMIN
        if dept is not None:
            who = who | (User.role.in_([Role.DEPT_MANAGER, Role.DEPT_HEAD]) & (User.department_id == dept))
        return tuple((await session.execute(select(User.id).where(User.is_active.is_(True), who))).scalars())
