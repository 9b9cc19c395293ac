"""`hub doctor` against a hub with a deliberately broken setting: the PBX's AMI secret is wrong, the bot
token refused, a data folder missing. One line per check with what to do; exit status 1. Fixed, it passes."""

from __future__ import annotations

import asyncio

from aiohttp import web

from connectors.asterisk.fake_pbx import FakePbx
from ops.logs import JsonLines


async def _fake_bot_api() -> tuple[web.AppRunner, int]:
    async def get_me(request: web.Request) -> web.Response:
        if request.match_info["token"] == "bot123:good":
            return web.json_response({"ok": True, "result": {"id": 123, "username": "agency_bot"}})
        return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)

    app = web.Application()
    app.router.add_get("/{token}/getMe", get_me)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def test_doctor_names_each_broken_setting_and_what_to_do(tmp_path, hub_cli):
    async def doctor(env: dict[str, str]) -> tuple[int, list[str]]:
        status, out, _ = await asyncio.to_thread(hub_cli, env, "doctor")
        return status, out.splitlines()

    pbx = FakePbx(secret="right-secret", autoplay=False)
    await pbx.start()
    bot, bot_port = await _fake_bot_api()
    monitor = tmp_path / "monitor"
    monitor.mkdir()
    env = {
        "HUB_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'hub.sqlite3'}",
        "HUB_STORAGE__VAR_DIR": str(tmp_path / "var"), "HUB_BACKUP__DIR": str(tmp_path / "no-such-folder"),
        "HUB_ASTERISK__ENABLED": "true", "HUB_ASTERISK__PORT": str(pbx.port),
        "HUB_ASTERISK__SECRET": "wrong-secret", "HUB_ASTERISK__RECORDINGS_DIR": str(monitor),
        "HUB_TELEGRAM__ENABLED": "true", "HUB_TELEGRAM__TOKEN": "123:bad",
        "HUB_TELEGRAM__BASE_URL": f"http://127.0.0.1:{bot_port}/bot",
    }
    (tmp_path / "var").mkdir()
    try:
        status, lines = await doctor(env)
        assert status == 1
        failed = {line.split(":")[0].split(None, 1)[1]: line for line in lines if line.startswith("FAIL")}
        assert set(failed) == {"pbx", "disk backups", "telegram"}, lines
        assert "refused" in failed["pbx"] and "HUB_ASTERISK__SECRET" in failed["pbx"]
        assert "wrong-secret" not in "\n".join(lines)  # a secret never printed
        assert "does not exist" in failed["disk backups"] and "install -d" in failed["disk backups"]
        assert "Unauthorized" in failed["telegram"] and "HUB_TELEGRAM__TOKEN" in failed["telegram"]
        assert any(line.startswith("warn  database") and "no schema yet" in line for line in lines)
        assert lines[-1].endswith("3 failed")

        (tmp_path / "no-such-folder").mkdir()
        env.update(HUB_ASTERISK__SECRET="right-secret", HUB_TELEGRAM__TOKEN="123:good")
        status, lines = await doctor(env)
        assert status == 0, lines
        assert any(line.startswith("ok    pbx permissions") for line in lines)
        assert any(line.startswith("ok    recordings") for line in lines)
        assert any("@agency_bot" in line for line in lines)
        assert pbx.actions["Login"] == 2 and pbx.actions["CoreShowChannels"] == 1
    finally:
        await pbx.stop()
        await bot.cleanup()


def test_json_log_lines_carry_ids_and_the_level_per_component(capsys):
    import json
    import logging

    from ops.logs import configure

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    root.handlers[:] = []  # only the hub's handler, as in the `hub` process
    try:
        configure("INFO", "json", {"hub.telephony": "WARNING"})
        logging.getLogger("hub.routing").info("inquiry %s assigned", 42, extra={"inquiry_id": 42})
        logging.getLogger("hub.telephony").info("not shown: below this component's level")
        logging.getLogger("hub.telephony").warning("pbx link lost")
        lines = capsys.readouterr().err.strip().splitlines()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("hub.telephony").setLevel(logging.NOTSET)
    records = [json.loads(line) for line in lines]
    assert [r["message"] for r in records] == ["inquiry 42 assigned", "pbx link lost"]
    assert records[0]["inquiry_id"] == 42 and records[0]["logger"] == "hub.routing"
    assert records[1]["level"] == "WARNING" and records[0]["time"].endswith("+00:00")
    assert isinstance(JsonLines().format(logging.makeLogRecord({"msg": "x"})), str)
