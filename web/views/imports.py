"""Administrator's client import: upload a CSV/XLSX, read the per-row error report."""

from __future__ import annotations

import logging

from aiohttp import web

from crm_core.importer import MAX_FILE_BYTES, ImportFileError, import_clients
from crm_core.models import Role
from web.guard import allow
from web.keys import HUB, USER, sessions
from web.render import render

log = logging.getLogger("hub.web.import")


@allow(Role.ADMIN)
async def import_page(request: web.Request) -> web.StreamResponse:
    return render(request, "admin_import.html", {"report": None, "error": None, "filename": None})


@allow(Role.ADMIN)
async def import_upload(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    dry_run = form.get("dry_run") == "1"
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        return render(request, "admin_import.html",
                      {"report": None, "error": "файл не выбран / no file chosen", "filename": None}, status=422)
    data = upload.file.read(MAX_FILE_BYTES + 1)
    filename = upload.filename
    try:
        report = await import_clients(sessions(request), data, filename, dry_run=dry_run, actor_id=request[USER].id,
                                      region=request.app[HUB].settings.phones.default_region)
    except ImportFileError as exc:
        log.info("import refused file=%r by user=%s: %s", filename, request[USER].id, exc)
        return render(request, "admin_import.html", {"report": None, "error": str(exc), "filename": filename},
                      status=422)
    log.info("import file=%r by user=%s dry_run=%s: %s", filename, request[USER].id, dry_run, report.summary())
    return render(request, "admin_import.html", {"report": report, "error": None, "filename": filename})


__all__ = ["import_page", "import_upload"]
