"""ORM tables of the Cookbook store. Schema changes go through a new Alembic migration."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Repo(Base):
    __tablename__ = "repos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), unique=True)
    owner: Mapped[str] = mapped_column(String(256), index=True, default="")
    source: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    ref: Mapped[str | None] = mapped_column(String(256), nullable=True)
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(512))
    checkout: Mapped[str] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # When the user trusted this repository at this commit (None: untrusted, its code asks first).
    trusted_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)


class ModelCacheEntry(Base):
    __tablename__ = "model_cache"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched_at: Mapped[float] = mapped_column(Float)


class Generation(Base):
    __tablename__ = "generations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(256), index=True, default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    repo_id: Mapped[str | None] = mapped_column(ForeignKey("repos.id"), nullable=True)
    kernel_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    usage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The generation a follow-up continues (None: it starts a thread).
    parent_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # Why a run failed or kept nothing (one sentence), and what the user can do next.
    cause: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_steps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    cells_count: Mapped[int | None] = mapped_column(Integer, nullable=True)  # kept, once it ended


class Event(Base):
    __tablename__ = "events"

    generation_id: Mapped[str] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    ts: Mapped[float] = mapped_column(Float)


class Comparison(Base):
    """One recipe across several providers or models; `runs` is [{provider, model, generation_id}]."""

    __tablename__ = "comparisons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(256), index=True, default="")
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    runs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float, index=True)


class Secret(Base):
    __tablename__ = "secrets"

    owner: Mapped[str] = mapped_column(String(256), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    hint: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[float] = mapped_column(Float)


Index("ix_events_generation_type", Event.generation_id, Event.type)
