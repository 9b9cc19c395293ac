"""Speech analytics: phrase lists matched across Russian word forms, and the flags they leave on calls.

Words are lower-cased, «ё» read as «е», and cut to their stem by the Snowball Russian stemmer
(snowballstemmer, the maintained Python build of Snowball): «договор», «договора», «договором» all match.
A phrase matches when its words' stems follow one another in one speaker's words. A required script phrase
that nobody (on a two-channel recording: the agent) said becomes a ``missing_script`` flag without a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from speech.settings import PhraseLists

TOKEN = re.compile(r"\w+(?:-\w+)*")
CATEGORIES = ("rudeness", "forbidden", "competitors")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower().replace("ё", "е"))


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - snowballstemmer's; loaded at the first transcript, not at the hub's start
    import snowballstemmer

    return snowballstemmer.stemmer("russian")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower().replace("ё", "е"))


@dataclass(frozen=True, slots=True)
class Match:
    category: str  # rudeness | forbidden | competitors | missing_script
    phrase: str
    heard: str | None
    at_s: float | None
    speaker: str | None


class PhraseMatcher:
    def __init__(self, lists: PhraseLists) -> None:
        self.phrases = [(cat, p, _keys(p)) for cat in CATEGORIES for p in getattr(lists, cat) if tokens(p)]
        self.required = [(p, _keys(p)) for p in lists.required if tokens(p)]

    def __bool__(self) -> bool:
        return bool(self.phrases or self.required)

    def find(self, words: list[dict]) -> list[Match]:
        """``words``: {word, speaker, start (seconds or None)} in spoken order."""
        by_speaker: dict[str, list[tuple[str, str, float | None]]] = {}
        for w in words:
            for tok in tokens(w["word"]):
                by_speaker.setdefault(w.get("speaker") or "speaker", []).append((stem(tok), tok, w.get("start")))
        found: list[Match] = []
        for cat, phrase, stems in self.phrases:
            for speaker, seq in by_speaker.items():
                for i, at in _occurrences(seq, stems):
                    heard = " ".join(t for _, t, _ in seq[i:i + len(stems)])
                    found.append(Match(cat, phrase, heard, at, speaker))
        agent_only = "agent" in by_speaker
        for phrase, stems in self.required:
            seqs = [by_speaker["agent"]] if agent_only else list(by_speaker.values())
            if not any(_occurrences(seq, stems) for seq in seqs):
                found.append(Match("missing_script", phrase, None, None, "agent" if agent_only else None))
        found.sort(key=lambda m: (m.at_s is None, m.at_s or 0.0, m.category, m.phrase))
        return found


Key = tuple[str, str]  # (stem, the word as listed, normalised)


def _keys(phrase: str) -> tuple[Key, ...]:
    return tuple((stem(t), t) for t in tokens(phrase))


def _same_word(heard_stem: str, heard: str, key: Key) -> bool:
    """One word form of the listed word: the same stem, or (names the stemmer cuts too short, «Инком» → «инк»)
    the listed word followed by an ending of at most three letters («Инкоме», «Инкомом»)."""
    listed_stem, listed = key
    return heard_stem == listed_stem or (heard.startswith(listed) and len(heard) - len(listed) <= 3)


def _occurrences(seq: list[tuple[str, str, float | None]], keys: tuple[Key, ...]) -> list[tuple[int, float | None]]:
    n = len(keys)
    return [(i, seq[i][2]) for i in range(len(seq) - n + 1)
            if all(_same_word(seq[i + k][0], seq[i + k][1], keys[k]) for k in range(n))]


def words_from_text(text: str) -> list[dict]:
    """A stored transcript without word times (one speaker per line as ``dialogue_text`` writes it)."""
    return [{"word": tok, "speaker": "speaker", "start": None} for tok in tokens(text)]


async def store_flags(session, transcript_id: int, call_id: int, matches: list[Match]) -> None:  # noqa: ANN001
    """Replace the transcript's flags with these (a re-run never doubles them); in the caller's transaction."""
    from sqlalchemy import delete, insert

    from crm_core.models.speech import SpeechFlag

    await session.execute(delete(SpeechFlag).where(SpeechFlag.transcript_id == transcript_id))
    if matches:
        await session.execute(insert(SpeechFlag), [
            {"transcript_id": transcript_id, "call_id": call_id, "category": m.category, "phrase": m.phrase[:300],
             "heard": (m.heard or None) and m.heard[:300], "at_s": m.at_s, "speaker": m.speaker}
            for m in matches])
