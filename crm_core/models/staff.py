"""Which departments a manager-administrator serves besides their own (issue: «Контроль» over several)."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base


class ServedDepartment(Base):
    __tablename__ = "served_departments"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True)
