"""`spanloom.llama_index` under the Braintrust SDK's module path (`braintrust.integrations.llamaindex`)."""

from __future__ import annotations

from ..llama_index import (
    BraintrustSpanHandler,
    SpanloomEventHandler,
    SpanloomSpanHandler,
    instrument_llama_index,
    setup_llamaindex,
    uninstrument_llama_index,
)

__all__ = [
    "BraintrustSpanHandler",
    "SpanloomEventHandler",
    "SpanloomSpanHandler",
    "instrument_llama_index",
    "setup_llamaindex",
    "uninstrument_llama_index",
]
