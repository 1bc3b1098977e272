"""Fake external services for tests and benchmarks, driven through the real SDKs over HTTP.

Model APIs: `FakeAnthropic` and `FakeOpenAI` replay a script of replies built with the helpers
below (the same script works for both) and record every request in `fake.requests`.
"""

from .anthropic_server import FakeAnthropic
from .openai_server import FakeOpenAI
from .script import (
    RecordedRequest,
    Reply,
    ScriptedCall,
    call,
    hang_up,
    http_error,
    json_body,
    malformed,
    text_reply,
    tool_use,
    tool_uses,
)

__all__ = [
    "FakeAnthropic",
    "FakeOpenAI",
    "RecordedRequest",
    "Reply",
    "ScriptedCall",
    "call",
    "hang_up",
    "http_error",
    "json_body",
    "malformed",
    "text_reply",
    "tool_use",
    "tool_uses",
]
