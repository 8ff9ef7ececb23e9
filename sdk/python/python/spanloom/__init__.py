"""Spanloom: tracing for LLM and agent apps.

The API mirrors the official ``braintrust`` Python SDK, so moving to Spanloom is an import
change::

    import spanloom
    logger = spanloom.init_logger(project="support-bot")

    @spanloom.traced
    def answer(question):
        spanloom.current_span().log(metadata={"model": "gpt-4o"})
        return "42"

Rows are queued to the Rust core (``spanloom._core``), which merges the rows of a span,
batches them and sends them on its own thread with retries; tracing never raises into the
application. Without ``init_logger`` every annotation is a no-op.
"""

from __future__ import annotations

from . import _fork  # noqa: F401 - registers the os.fork() handlers
from ._anthropic import wrap_anthropic
from ._attachment import Attachment, BaseAttachment, ExternalAttachment, JSONAttachment, ReadonlyAttachment
from ._auto import auto_instrument
from ._dataset import Dataset, DatasetSummary, DataSummary, init_dataset
from ._eval import (
    BaseExperiment,
    Classification,
    Eval,
    EvalAsync,
    EvalCase,
    EvalHooks,
    EvalResult,
    EvalResultWithSummary,
    Evaluator,
    Reporter,
    ReporterDef,
    default_error_score_handler,
)
from ._experiment import (
    Experiment,
    ExperimentSummary,
    MetricSummary,
    ReadonlyExperiment,
    ScoreSummary,
    SummarySkipped,
    SummarySuccess,
    current_experiment,
    init,
    init_experiment,
    summarize,
)
from ._logger import Logger, flush, init_logger, login
from ._openai import wrap_openai
from ._score import Score, Scorer
from ._span import NOOP_SPAN, Span, current_span, start_span, traced, update_span
from ._threads import TracedThreadPoolExecutor

__all__ = [
    "auto_instrument",
    "wrap_anthropic",
    "Attachment",
    "BaseAttachment",
    "BaseExperiment",
    "Classification",
    "DataSummary",
    "Dataset",
    "DatasetSummary",
    "Eval",
    "EvalAsync",
    "EvalCase",
    "EvalHooks",
    "EvalResult",
    "EvalResultWithSummary",
    "Evaluator",
    "Experiment",
    "ExperimentSummary",
    "ExternalAttachment",
    "JSONAttachment",
    "MetricSummary",
    "ReadonlyAttachment",
    "ReadonlyExperiment",
    "Reporter",
    "ReporterDef",
    "Score",
    "ScoreSummary",
    "Scorer",
    "SummarySkipped",
    "SummarySuccess",
    "current_experiment",
    "default_error_score_handler",
    "init",
    "init_dataset",
    "init_experiment",
    "summarize",
    "Logger",
    "NOOP_SPAN",
    "Span",
    "TracedThreadPoolExecutor",
    "current_span",
    "flush",
    "init_logger",
    "login",
    "start_span",
    "traced",
    "update_span",
    "wrap_openai",
]
