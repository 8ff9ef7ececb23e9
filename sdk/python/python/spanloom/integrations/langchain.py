"""`spanloom.langchain` under the Braintrust SDK's module path (`braintrust.integrations.langchain`)."""

from __future__ import annotations

from ..langchain import (
    BraintrustCallbackHandler,
    SpanloomCallbackHandler,
    clear_global_handler,
    get_global_handler,
    set_global_handler,
    setup_langchain,
)

__all__ = [
    "BraintrustCallbackHandler",
    "SpanloomCallbackHandler",
    "clear_global_handler",
    "get_global_handler",
    "set_global_handler",
    "setup_langchain",
]
