"""The framework integrations under the module paths the Braintrust SDK uses
(`braintrust.integrations.langchain`, `braintrust.integrations.llamaindex`), so moving over is
an import change: `spanloom.integrations.langchain`, `spanloom.integrations.llamaindex`."""
