"""After the call: when both legs were heard live and whole, the stored transcript is theirs — agent and
client apart, with word times — instead of a second decoding of the mixed recording; a leg that lost audio
leaves the recording to the usual post-call transcription."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from connectors.audiosocket import protocol as p
from connectors.audiosocket.fake_stream import stream_pcm, wav_pcm
from crm_core.models import Call, Recording, Transcript
from crm_core.models.speech import SpeechFlag, SpeechWord
from speech.live import LiveSpeech
from speech.settings import PhraseLists
from tests.speech.conftest import ANSWERED, TRANSFER, add_call
from tests.speech.test_live_speech import PCM, WORD
from tests.speech.test_service import service_for, wait_for

LINKEDID = "1795391262.102"


async def test_both_legs_heard_live_become_the_calls_transcript(db, model_path):
    phrases = PhraseLists(competitors=[WORD])
    live = LiveSpeech(model_path=str(model_path), workers=1, port=0, phrases=phrases)
    await live.start()
    service = service_for(db, model_path, phrases=phrases)
    service.live = live
    try:
        agent, client = p.leg_uuid(LINKEDID, "agent"), p.leg_uuid(LINKEDID, "client")
        await asyncio.gather(stream_pcm("127.0.0.1", live.server.port, agent, PCM, speed=0),
                             stream_pcm("127.0.0.1", live.server.port, client, wav_pcm(ANSWERED), speed=0))
        for stream in (agent, client):  # the call is over; its legs' last words come in
            await asyncio.wait_for(live.legs[stream].done.wait(), 120)
        async with db.sessions() as s, s.begin():
            call_id, _ = await add_call(s, TRANSFER)  # the mixed recording: not what ends up transcribed
            await s.execute(update(Call).where(Call.id == call_id).values(linkedid=LINKEDID))
        await service.start()
        await service.enqueue_call(call_id)
        await wait_for(lambda: _status(db, call_id), 120)
    finally:
        await service.stop()
        await live.stop()
    heard = live.call(LINKEDID)
    async with db.sessions() as s:
        t = (await s.execute(select(Transcript).join(Recording, Recording.id == Transcript.recording_id)
                             .where(Recording.call_id == call_id))).scalar_one()
        words = (await s.execute(select(SpeechWord).where(SpeechWord.transcript_id == t.id)
                                 .order_by(SpeechWord.position))).scalars().all()
        flags = (await s.execute(select(SpeechFlag).where(SpeechFlag.call_id == call_id))).scalars().all()
    assert t.status == "done" and "live" in (t.error or "")  # the transcript's note says where it came from
    assert {w.speaker for w in words} == {"agent", "client"}
    for leg in ("agent", "client"):
        stored = [(w.word, w.start_s) for w in words if w.speaker == leg]
        assert stored == [(w["word"], w["start"]) for w in heard[leg]["words"]]
    assert [w.start_s for w in words] == sorted(w.start_s for w in words)
    assert [(f.category, f.heard, f.speaker) for f in flags] == [("competitors", WORD, "agent")]


async def _status(db, call_id: int) -> bool:  # noqa: ANN001
    async with db.sessions() as s:
        status = (await s.execute(select(Transcript.status).join(Recording, Recording.id == Transcript.recording_id)
                                  .where(Recording.call_id == call_id))).scalar()
    return status in ("done", "failed")
