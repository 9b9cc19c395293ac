"""Administrator pages: users and departments (validated with pydantic, errors per field)."""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from crm_core import queries
from crm_core.models import Department, Division, Role, User
from crm_core.models.staff import ServedDepartment
from crm_core.settings_audit import record_setting_change
from crm_core.users import UserError, create_user
from web import labels
from web.guard import allow
from web.keys import ACTOR, LOCALE, USER, sessions
from web.render import render

log = logging.getLogger("hub.web.admin")


class NewUser(BaseModel):
    login: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=200)
    role: Role
    department_id: int | None = None
    extension: str | None = Field(default=None, max_length=40, pattern=r"^[0-9A-Za-z*#/@._-]*$")

    @field_validator("department_id", "extension", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if v in ("", None) else v


class NewDepartment(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    division: str = Field(default="", max_length=200)


def _field_errors(exc: ValidationError, locale: str = "ru") -> dict[str, str]:
    return labels.field_errors(exc, locale)


MANAGERS = (Role.DEPT_MANAGER, Role.DEPT_HEAD)


async def _users_context(request: web.Request) -> dict:
    async with sessions(request)() as s:
        served: dict[int, set[int]] = {}
        for user_id, department_id in (await s.execute(select(ServedDepartment.user_id,
                                                              ServedDepartment.department_id))).all():
            served.setdefault(user_id, set()).add(department_id)
        return {"users": await queries.users(s), "departments": await queries.departments(s), "roles": list(Role),
                "served": served, "managers": [r.value for r in MANAGERS]}


@allow(Role.ADMIN)
async def users_served(request: web.Request) -> web.StreamResponse:
    """A manager-administrator serves a list of departments besides their own: they see and control those too."""
    user_id = int(request.match_info["id"])
    form = await request.post()
    try:
        wanted = {int(v) for v in form.getall("department_id", [])}
    except ValueError as exc:
        raise web.HTTPUnprocessableEntity(text="department_id must be a number") from exc
    async with sessions(request)() as s, s.begin():
        user = await s.get(User, user_id)
        if user is None or user.role not in MANAGERS:
            raise web.HTTPNotFound(text="no such department manager")
        known = set((await s.execute(select(Department.id).where(Department.id.in_(wanted)))).scalars())
        if known != wanted:
            raise web.HTTPUnprocessableEntity(text="unknown department")
        before = sorted((await s.execute(select(ServedDepartment.department_id)
                                         .where(ServedDepartment.user_id == user_id))).scalars())
        await s.execute(delete(ServedDepartment).where(ServedDepartment.user_id == user_id))
        s.add_all(ServedDepartment(user_id=user_id, department_id=d) for d in sorted(wanted - {user.department_id}))
        await record_setting_change(s, request[ACTOR].user_id, "role", f"user:{user_id}", {"served": before},
                                    {"served": sorted(wanted - {user.department_id})})
    log.info("served departments user=%s departments=%s by admin=%s", user_id, sorted(wanted), request[USER].id)
    raise web.HTTPSeeOther("/admin/users")


@allow(Role.ADMIN)
async def users_page(request: web.Request) -> web.StreamResponse:
    ctx = await _users_context(request)
    return render(request, "admin_users.html", {**ctx, "errors": {}, "form": {}, "created": None})


@allow(Role.ADMIN)
async def users_create(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
    errors: dict[str, str] = {}
    created = None
    try:
        data = NewUser.model_validate(form)
        async with sessions(request)() as s, s.begin():
            user = await create_user(s, **data.model_dump())
            created = user.login
            await record_setting_change(s, request[ACTOR].user_id, "user", f"user:{user.id}", None,
                                        data.model_dump(mode="json", exclude={"password"}))
        log.info("user created login=%s role=%s by admin=%s", created, data.role, request[USER].id)
    except ValidationError as exc:
        errors = _field_errors(exc, request[LOCALE])
    except UserError as exc:
        errors = {"login": labels.message(str(exc), request[LOCALE])}
    except IntegrityError:
        errors = {"extension": labels.message("extension or login already in use", request[LOCALE])}
    ctx = await _users_context(request)
    form.pop("password", None)
    return render(request, "admin_users.html", {**ctx, "errors": errors, "form": form, "created": created},
                  status=422 if errors else 200)


async def _departments_context(request: web.Request) -> dict:
    async with sessions(request)() as s:
        rows = (
            await s.execute(select(Department, Division.name).outerjoin(Division).order_by(Department.name))
        ).all()
    return {"departments": rows}


@allow(Role.ADMIN)
async def departments_page(request: web.Request) -> web.StreamResponse:
    return render(request, "admin_departments.html",
                  {**await _departments_context(request), "errors": {}, "form": {}, "created": None})


@allow(Role.ADMIN)
async def departments_create(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
    errors: dict[str, str] = {}
    created = None
    try:
        data = NewDepartment.model_validate(form)
        async with sessions(request)() as s, s.begin():
            division_id = None
            if data.division.strip():
                division = (
                    await s.execute(select(Division).where(Division.name == data.division.strip()))
                ).scalar_one_or_none()
                if division is None:
                    division = Division(name=data.division.strip())
                    s.add(division)
                    await s.flush()
                division_id = division.id
            department = Department(name=data.name.strip(), division_id=division_id)
            s.add(department)
            await s.flush()
            await record_setting_change(s, request[ACTOR].user_id, "department", f"department:{department.id}", None,
                                        {"name": department.name, "division": data.division.strip()})
        created = data.name
    except ValidationError as exc:
        errors = _field_errors(exc, request[LOCALE])
    except IntegrityError:
        errors = {"name": "a department with this name exists"}
    return render(request, "admin_departments.html",
                  {**await _departments_context(request), "errors": errors, "form": form, "created": created},
                  status=422 if errors else 200)
