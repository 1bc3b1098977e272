"""Model providers behind one contract (`base.Provider`): anthropic, openai-compatible, offline."""

from __future__ import annotations

from .base import (
    Block,
    Message,
    ModelTurn,
    Provider,
    ProviderError,
    SystemPrompt,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "Block",
    "Message",
    "ModelTurn",
    "Provider",
    "ProviderError",
    "SystemPrompt",
    "ToolCall",
    "ToolSpec",
    "Usage",
]
