"""`spanloom.langchain` under the Braintrust SDK's module path (`braintrust.integrations.langchain`)."""

from __future__ import annotations

from ..langchain import *  # noqa: F403 - the same public names
from ..langchain import __all__  # noqa: F401
