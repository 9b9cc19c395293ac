"""Bytes-level AMI frame splitter: wire bytes in, ``dict[str, str]`` frames out."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

BANNER_PREFIX = b"Asterisk Call Manager/"
FRAME_END = b"\r\n\r\n"
LINE_END = b"\r\n"
DEFAULT_MAX_FRAME = 1024 * 1024


class FrameTooLarge(Exception):
    """A single frame (or the unframed buffer) grew past the configured cap."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"AMI frame of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class AmiFrameSplitter:
    """Split an AMI byte stream into frames; decode each WHOLE frame as UTF-8.

    Frames that are not valid UTF-8 are decoded with ``fallback_charset`` and counted
    in ``fallback_decoded``; lines without ``": "`` are skipped and counted in ``garbage_lines``.
    """

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME, fallback_charset: str = "cp1251") -> None:
        self.max_frame = max_frame
        self.fallback_charset = fallback_charset
        self.banner: str | None = None
        self.fallback_decoded = 0
        self.garbage_lines = 0
        self._buf = bytearray()
        self._banner_pending = True

    def feed(self, data: bytes) -> list[dict[str, str]]:
        self._buf += data
        frames: list[dict[str, str]] = []
        if self._banner_pending and not self._take_banner():
            self._check_size(len(self._buf))
            return frames
        buf = self._buf
        start = 0
        while True:
            end = buf.find(FRAME_END, start)
            if end < 0:
                break
            self._check_size(end - start)
            frame = self._parse(bytes(buf[start:end]))
            if frame:
                frames.append(frame)
            start = end + len(FRAME_END)
        if start:
            del buf[:start]
        self._check_size(len(buf))
        return frames

    def _take_banner(self) -> bool:
        """Consume the banner line if present; return False while more bytes are needed."""
        buf = self._buf
        if len(buf) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buf)):
            return False
        self._banner_pending = False
        if not buf.startswith(BANNER_PREFIX):
            return True
        eol = buf.find(LINE_END)
        if eol < 0:
            self._banner_pending = True
            return False
        self.banner = self._decode(bytes(buf[:eol]))
        del buf[: eol + len(LINE_END)]
        return True

    def _check_size(self, size: int) -> None:
        if size > self.max_frame:
            raise FrameTooLarge(size, self.max_frame)

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fallback_decoded += 1
            log.warning("AMI frame is not UTF-8; decoded as %s", self.fallback_charset)
            return raw.decode(self.fallback_charset, errors="replace")

    def _parse(self, raw: bytes) -> dict[str, str]:
        frame: dict[str, str] = {}
        for line in self._decode(raw).split("\r\n"):
            key, sep, value = line.partition(": ")
            if not sep:
                if line:
                    self.garbage_lines += 1
                    log.debug("skipping AMI line without ': ': %r", line[:80])
                continue
            frame[key] = value
        return frame
