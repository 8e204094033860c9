"""Demo organizations and users, created only when asked for (``labbook demo``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from labbook.accounts import services as accounts
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.accounts.uscc import check_character
from labbook.catalogue.models import Lab

DEMO_PASSWORD = "labbook-demo-2026"  # noqa: S105  (printed to the operator on purpose)


def _uscc(first17: str) -> str:
    return first17 + check_character(first17)


DEMO_ORGANIZATIONS = (
    ("焦作市产业技术科学院", _uscc("12410800MB1C6N2P1"), PriceTier.INTERNAL),
    ("焦作新材储能科技有限公司", _uscc("91410800MA9G3KXD2"), PriceTier.PARTNER),
    ("怀川绿色食品有限公司", _uscc("91410821MA47PQ8R5"), PriceTier.EXTERNAL),
    ("焦作精工装备制造有限公司", _uscc("91410802MA9K5TWL0"), PriceTier.EXTERNAL),
)


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    organization: str
    labs: tuple[str, ...] = ()


DEMO_USERS = (
    DemoUser("admin@jzit.example.cn", "系统管理员", Role.ADMIN, "焦作市产业技术科学院"),
    DemoUser("nem.manager@jzit.example.cn", "王磊（新能源材料实验室）", Role.LAB_MANAGER,
             "焦作市产业技术科学院", ("NEM",)),
    DemoUser("food.manager@jzit.example.cn", "李静（绿色食品实验室）", Role.LAB_MANAGER,
             "焦作市产业技术科学院", ("FOOD",)),
    DemoUser("mfg.manager@jzit.example.cn", "张伟（装备制造实验室）", Role.LAB_MANAGER,
             "焦作市产业技术科学院", ("MFG",)),
    DemoUser("chen@xincai.example.cn", "陈晓明", Role.RESEARCHER, "焦作新材储能科技有限公司"),
    DemoUser("zhou@huaichuan.example.cn", "周婷", Role.RESEARCHER, "怀川绿色食品有限公司"),
    DemoUser("liu@jinggong.example.cn", "刘洋", Role.RESEARCHER, "焦作精工装备制造有限公司"),
)


def load_demo(session: Session) -> list[DemoUser]:
    """Create what is missing of the demo set (idempotent) and return the demo users."""
    organizations = {org.name: org for org in session.scalars(select(Organization))}
    for name, uscc, tier in DEMO_ORGANIZATIONS:
        if name not in organizations:
            organizations[name] = accounts.create_organization(session, name=name, uscc=uscc,
                                                               tier=tier)
    session.flush()
    labs = {lab.code: lab for lab in session.scalars(select(Lab))}
    existing = set(session.scalars(select(User.email)))
    for demo in DEMO_USERS:
        if demo.email in existing:
            continue
        accounts.create_user(session, email=demo.email, name=demo.name, password=DEMO_PASSWORD,
                             role=demo.role, organization=organizations[demo.organization],
                             labs=[labs[code] for code in demo.labs])
    session.flush()
    for name, contact_email in (("焦作新材储能科技有限公司", "chen@xincai.example.cn"),
                                ("怀川绿色食品有限公司", "zhou@huaichuan.example.cn"),
                                ("焦作精工装备制造有限公司", "liu@jinggong.example.cn")):
        organization = organizations[name]
        if organization.billing_contact is None:
            organization.billing_contact = session.scalar(
                select(User).where(User.email == contact_email))
    session.commit()
    return list(DEMO_USERS)
