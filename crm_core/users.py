"""Users and passwords (argon2id through argon2-cffi: memory-hard, the OWASP-recommended default)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Role, User

_hasher = PasswordHasher()
# A real hash to verify against when the login is unknown, so timing does not reveal which logins exist.
_DUMMY_HASH = _hasher.hash("not-a-password")
MIN_PASSWORD = 8


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def create_user(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    full_name: str,
    role: Role | str = Role.AGENT,
    department_id: int | None = None,
    extension: str | None = None,
    locale: str = "ru",
) -> User:
    login = login.strip().lower()
    if not login or len(login) > 100 or any(c.isspace() for c in login):
        raise UserError("login must be 1–100 characters without spaces")
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}") from None
    if (await session.execute(select(User.id).where(User.login == login))).first():
        raise UserError(f"login {login!r} is taken")
    user = User(
        login=login, full_name=full_name.strip() or login, password_hash=hash_password(password),
        role=role, department_id=department_id, extension=extension or None, locale=locale,
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, login: str, password: str) -> User | None:
    user = (
        await session.execute(select(User).where(User.login == login.strip().lower(), User.is_active.is_(True)))
    ).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None else None
