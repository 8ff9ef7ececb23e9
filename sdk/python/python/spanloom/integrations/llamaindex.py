"""`spanloom.llama_index` under the Braintrust SDK's module path (`braintrust.integrations.llamaindex`)."""

from __future__ import annotations

from ..llama_index import *  # noqa: F403 - the same public names
from ..llama_index import __all__  # noqa: F401
