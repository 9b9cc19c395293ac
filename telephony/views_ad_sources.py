"""The UTM labels and the monthly costs on the «Источники звонков» page: a web form's ``utm_source`` (with its
``utm_campaign`` when one is given) → the source its inquiry shows, and what each source costs a month (the
sources report's cost per inquiry and per deal). Admins only; every change goes to the settings journal.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Role
from crm_core.settings_audit import record_setting_change
from telephony.ad_sources import (
    Saved,
    SourceFormError,
    SourceFormErrors,
    UtmTable,
    all_costs,
    all_utm,
    delete_cost,
    delete_utm,
    roubles,
    save_cost,
    save_utm,
)
from web.guard import allow
from web.i18n import add_texts
from web.keys import HUB, USER, sessions
from web.render import render

log = logging.getLogger("hub.web.ad_sources")
PAGE = "/admin/call-sources"
Context = Callable[..., Awaitable[dict]]

add_texts({
    "adsources.utm_title": ("Метки UTM веб-форм", "Web forms' UTM labels"),
    "adsources.utm_hint": ("Заявка с сайта с такой UTM-меткой источника (и кампании, если она указана) получает "
                           "этот источник. Без совпадения источником остаётся сама метка.",
                           "A web form with this UTM source label (and campaign, when given) takes this source. "
                           "Without a match the label itself stays its source."),
    "adsources.utm_source": ("Метка", "Label"),
    "adsources.utm_campaign": ("Кампания, необязательно", "Campaign, optional"),
    "adsources.any_campaign": ("любая кампания", "any campaign"),
    "adsources.source": ("Источник рекламы", "Advertising source"),
    "adsources.utm_none": ("Меток пока нет", "No labels yet"),
    "adsources.utm_add": ("Добавить метку", "Add a label"),
    "adsources.cost_title": ("Расходы на рекламу по месяцам", "Advertising cost per month"),
    "adsources.cost_hint": ("Сколько источник стоил за календарный месяц. Отчёт «Источники» делит расход на "
                            "обращения и сделки источника; за часть месяца берётся доля по дням.",
                            "What a source cost in a calendar month. The «Sources» report divides it by the "
                            "source's inquiries and deals; a part of a month counts its share by days."),
    "adsources.month": ("Месяц", "Month"),
    "adsources.amount": ("Сумма, ₽", "Amount, ₽"),
    "adsources.cost_none": ("Расходов пока нет", "No costs yet"),
    "adsources.cost_add": ("Указать расход", "Set a cost"),
    "adsources.delete": ("Удалить", "Delete"),
    "adsources.saved": ("Сохранено", "Saved"),
    "adsources.deleted": ("Удалено", "Deleted"),
    "adsources.err.utm_required": ("Укажите метку источника (UTM)", "Give the UTM source label"),
    "adsources.err.source_required": ("Укажите название источника", "Give the source's name"),
    "adsources.err.duplicate": ("Такая метка (с этой кампанией) уже есть в таблице",
                                "This label (with this campaign) is in the table already"),
    "adsources.err.gone": ("Эту метку уже удалили", "This label was deleted meanwhile"),
    "adsources.err.month": ("Месяц в виде ГГГГ-ММ или ММ.ГГГГ, например 2026-12",
                            "A month as YYYY-MM or MM.YYYY, e.g. 2026-12"),
    "adsources.err.amount": ("Сумма в рублях числом, например 30000 или 1500,50",
                             "An amount in roubles as a number, e.g. 30000 or 1500.50"),
    "adsources.err.negative": ("Сумма не может быть отрицательной", "The amount cannot be negative"),
})


async def ad_context(s: AsyncSession) -> dict:
    """The page's two tables."""
    costs = await all_costs(s)
    return {"utm_rows": await all_utm(s), "cost_rows": [(c, roubles(c.amount_kop)) for c in costs]}


def add_routes(router: web.UrlDispatcher, context: Context) -> None:
    """The forms post here; a refused one shows the whole page again with the fields' messages."""

    async def refused(request: web.Request, form_name: str, errors: list[SourceFormError],
                      form: dict[str, str]) -> web.Response:
        messages = {f"{form_name}.{e.field}": f"adsources.err.{e.code}" for e in errors}
        ctx = await context(request, ad_errors=messages, ad_form={form_name: form})
        return render(request, "telephony_sources.html", ctx, status=422)

    async def journal(request: web.Request, s: AsyncSession, saved: Saved | None) -> None:
        admin = request[USER]
        assert admin is not None  # @allow(Role.ADMIN) let only a logged-in admin in
        if saved is not None:
            await record_setting_change(s, admin.id, "source", saved.key, saved.before, saved.after)
            log.info("ad source %s changed by admin=%s", saved.key, admin.id)

    def forms_read_again(request: web.Request) -> None:
        """After a label's change is committed the forms read the table at once, not after the cache's time."""
        table = request.app[HUB].utm_table
        if isinstance(table, UtmTable):
            table.forget()

    @allow(Role.ADMIN)
    async def save_label(request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
        raw_id = form.get("id", "")
        try:
            async with sessions(request)() as s, s.begin():
                admin = request[USER]
                saved = await save_utm(s, form.get("utm_source", ""), form.get("utm_campaign", ""),
                                       form.get("source", ""), admin.id if admin else None,
                                       int(raw_id) if raw_id.isdigit() else None)
                await journal(request, s, saved)
        except SourceFormError as exc:
            row_form = f"utm{raw_id}" if raw_id.isdigit() and exc.code != "gone" else "utm"  # a deleted row: on top
            return await refused(request, row_form, [exc], form)
        forms_read_again(request)
        raise web.HTTPSeeOther(f"{PAGE}?notice=ad_saved#utm-sources")

    @allow(Role.ADMIN)
    async def remove_label(request: web.Request) -> web.StreamResponse:
        raw_id = str((await request.post()).get("id", ""))
        if raw_id.isdigit():
            async with sessions(request)() as s, s.begin():
                await journal(request, s, await delete_utm(s, int(raw_id)))
            forms_read_again(request)
        raise web.HTTPSeeOther(f"{PAGE}?notice=ad_deleted#utm-sources")

    @allow(Role.ADMIN)
    async def save_month_cost(request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
        try:
            async with sessions(request)() as s, s.begin():
                admin = request[USER]
                saved = await save_cost(s, form.get("source", ""), form.get("month", ""), form.get("amount", ""),
                                        admin.id if admin else None)
                await journal(request, s, saved)
        except SourceFormErrors as exc:
            return await refused(request, "cost", exc.errors, form)
        raise web.HTTPSeeOther(f"{PAGE}?notice=ad_saved#source-costs")

    @allow(Role.ADMIN)
    async def remove_cost(request: web.Request) -> web.StreamResponse:
        raw_id = str((await request.post()).get("id", ""))
        if raw_id.isdigit():
            async with sessions(request)() as s, s.begin():
                await journal(request, s, await delete_cost(s, int(raw_id)))
        raise web.HTTPSeeOther(f"{PAGE}?notice=ad_deleted#source-costs")

    router.add_post(f"{PAGE}/utm", save_label)
    router.add_post(f"{PAGE}/utm/delete", remove_label)
    router.add_post(f"{PAGE}/cost", save_month_cost)
    router.add_post(f"{PAGE}/cost/delete", remove_cost)
