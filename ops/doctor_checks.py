"""``hub doctor``'s checks of the outside parts: the PBX over AMI, the mailbox, the mail server, the bot."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from ops.doctor_core import Check, fail, ok, warn

AMI_PERMS = "read = system,call,agent,user,reporting,dialplan and write = system,call,originate,agent,reporting"


async def _ami_frame(reader: asyncio.StreamReader) -> dict[str, str]:
    raw = await reader.readuntil(b"\r\n\r\n")
    frame = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            frame[key.strip()] = value.strip()
    return frame


async def _ami_ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, action: str, n: int,
                   **headers: str) -> dict[str, str]:
    lines = [f"Action: {action}", f"ActionID: doctor-{n}", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    while True:
        frame = await _ami_frame(reader)
        if frame.get("ActionID") == f"doctor-{n}" and "Response" in frame:
            return frame


async def check_pbx(settings) -> list[Check]:  # noqa: ANN001 - config.settings.Settings
    a = settings.asterisk
    if not a.enabled:
        return [ok("pbx", "off ([asterisk] enabled = false)")]
    where = f"{a.host}:{a.port}"
    try:
        async with asyncio.timeout(a.connect_timeout_s + a.action_timeout_s):
            reader, writer = await asyncio.open_connection(a.host, a.port)
            try:
                await reader.readline()  # "Asterisk Call Manager/…"
                secret = a.secret.get_secret_value() if a.secret else ""
                login = await _ami_ask(reader, writer, "Login", 1, Username=a.username, Secret=secret)
                if login.get("Response") != "Success":
                    return [fail("pbx", f"AMI login as {a.username!r} at {where} refused "
                                 f"({login.get('Message', '')})",
                                 "check [asterisk] username and HUB_ASTERISK__SECRET against manager.conf")]
                denied = []
                for n, action in enumerate(("CoreShowChannels", "QueueSummary", "Ping"), start=2):
                    if "permission denied" in (await _ami_ask(reader, writer, action, n)).get("Message", "").lower():
                        denied.append(action)
                await _ami_ask(reader, writer, "Logoff", 9)
            finally:
                writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        return [fail("pbx", f"AMI at {where} unreachable ({type(exc).__name__}: {exc})",
                     "check [asterisk] host/port and that manager.conf has enabled = yes and bindaddr")]
    found = [ok("pbx", f"AMI login as {a.username!r} at {where} accepted")]
    if denied:
        found.append(fail("pbx permissions", f"denied: {', '.join(denied)}",
                          f"in manager.conf give [{a.username}] {AMI_PERMS}"))
    else:
        found.append(ok("pbx permissions", "channels and queues readable"))
    return found + [await asyncio.to_thread(check_recordings, Path(a.recordings_dir))]


def check_recordings(rec: Path) -> Check:
    """MixMonitor's folder: the hub reads the recordings from there (transcription, playback)."""
    if not rec.is_dir():
        return warn("recordings", f"{rec} does not exist here",
                    "mount the MixMonitor folder here (read-only) or set [asterisk] recordings_dir")
    if not os.access(rec, os.R_OK | os.X_OK):
        return fail("recordings", f"{rec} is not readable by this user",
                    "add the hub's user to the asterisk group (usermod -aG asterisk contact-hub)")
    return ok("recordings", f"{rec} readable")


async def check_mail(settings) -> list[Check]:  # noqa: ANN001
    e = settings.email
    if not e.enabled:
        return [ok("mail", "off ([email] enabled = false)")]
    found = []
    if e.imap_user:
        import aioimaplib

        client = aioimaplib.IMAP4_SSL if e.imap_port == 993 else aioimaplib.IMAP4
        try:
            imap = client(host=e.imap_host, port=e.imap_port, timeout=15)
            await imap.wait_hello_from_server()
            response = await imap.login(e.imap_user, e.imap_password.get_secret_value() if e.imap_password else "")
            with contextlib.suppress(Exception):
                await imap.logout()
            if response.result == "OK":
                found.append(ok("imap", f"login as {e.imap_user} at {e.imap_host}:{e.imap_port} accepted"))
            else:
                found.append(fail("imap", f"login as {e.imap_user} refused",
                                  "check [email] imap_user and HUB_EMAIL__IMAP_PASSWORD"))
        except (OSError, TimeoutError) as exc:
            found.append(fail("imap", f"{e.imap_host}:{e.imap_port} unreachable ({type(exc).__name__})",
                              "check [email] imap_host and imap_port (993: TLS)"))
    import aiosmtplib

    try:
        smtp = aiosmtplib.SMTP(hostname=e.smtp_host, port=e.smtp_port, timeout=15,
                               use_tls=e.smtp_security == "tls", start_tls=e.smtp_security == "starttls")
        await smtp.connect()
        try:
            if e.smtp_user:
                await smtp.login(e.smtp_user, e.smtp_password.get_secret_value() if e.smtp_password else "")
        finally:
            with contextlib.suppress(Exception):
                await smtp.quit()
        found.append(ok("smtp", f"{e.smtp_host}:{e.smtp_port} accepts" + (" the login" if e.smtp_user else "")))
    except aiosmtplib.SMTPAuthenticationError:
        found.append(fail("smtp", f"login as {e.smtp_user} refused",
                          "check [email] smtp_user and HUB_EMAIL__SMTP_PASSWORD"))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        found.append(fail("smtp", f"{e.smtp_host}:{e.smtp_port} unreachable ({type(exc).__name__})",
                          "check [email] smtp_host, smtp_port and smtp_security"))
    return found


async def check_telegram(settings) -> list[Check]:  # noqa: ANN001
    t = settings.telegram
    if not t.enabled:
        return [ok("telegram", "off ([telegram] enabled = false)")]
    if t.token is None:
        return [fail("telegram", "no bot token", "set HUB_TELEGRAM__TOKEN (from @BotFather)")]
    import aiohttp

    url = f"{t.base_url}{t.token.get_secret_value()}/getMe"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http, http.get(url) as resp:
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return [fail("telegram", f"the Bot API is unreachable ({type(exc).__name__})",
                     "check outgoing HTTPS to the Bot API ([telegram] base_url)")]
    if not body.get("ok"):
        return [fail("telegram", f"the token is refused ({body.get('description', resp.status)})",
                     "set a valid HUB_TELEGRAM__TOKEN (from @BotFather)")]
    return [ok("telegram", f"bot @{body['result'].get('username', '?')} answers")]
