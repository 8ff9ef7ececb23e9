"""Experiments: `init` / `init_experiment`, `Experiment` (log, start_span, log_feedback,
update_span, summarize, fetch), `ReadonlyExperiment` (``init(open=True)``), and the summary
types the official SDK prints at the end of an `Eval`."""

from __future__ import annotations

import dataclasses
import datetime
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Optional, Union

from . import _core, _logger, _span
from ._attachment import enrich
from ._dataset import (
    DEFAULT_FETCH_BATCH_SIZE,
    Dataset,
    ObjectMetadata,
    _encode,
    _LazyObject,
    _LoggedObject,
    _project_url,
    _ServerObject,
    api,
    fetch_pages,
    resolve_project,
    validate_metadata,
    validate_tags,
)


@dataclasses.dataclass
class ScoreSummary:
    """A score's average over the experiment, with the change against the comparison experiment."""

    name: str
    _longest_score_name: int
    score: float
    improvements: Optional[int]
    regressions: Optional[int]
    diff: Optional[float] = None

    def __str__(self) -> str:
        score_pct = f"{self.score * 100:05.2f}%"
        score_name = f"'{self.name}'".ljust(self._longest_score_name + 2)
        if self.diff is None:
            return f"{score_pct} {score_name} score"
        diff_pct = f"{abs(self.diff) * 100:05.2f}%"
        diff_score = f"+{diff_pct}" if self.diff > 0 else f"-{diff_pct}" if self.diff < 0 else "-"
        return f"{score_pct} ({diff_score}) {score_name} score\t({self.improvements} improvements, {self.regressions} regressions)"


@dataclasses.dataclass
class MetricSummary:
    """A metric's average over the experiment (duration, tokens, ...), with the change."""

    name: str
    _longest_metric_name: int
    metric: Union[float, int]
    unit: str
    improvements: Optional[int]
    regressions: Optional[int]
    diff: Optional[float] = None

    def __str__(self) -> str:
        metric = f"{self.metric:d}" if isinstance(self.metric, int) else f"{self.metric:.2f}"
        if self.diff is None:
            return f"{metric}{self.unit} {self.name}"
        diff_pct = f"{abs(self.diff) * 100:05.2f}%"
        diff_score = f"+{diff_pct}" if self.diff > 0 else f"-{diff_pct}" if self.diff < 0 else "-"
        metric_name = f"'{self.name}'".ljust(self._longest_metric_name + 2)
        return f"{metric}{self.unit} ({diff_score}) {metric_name}\t({self.improvements} improvements, {self.regressions} regressions)"


@dataclasses.dataclass(frozen=True)
class SummarySuccess:
    """A comparison that was computed: score and metric summaries by name."""

    scores: dict
    metrics: dict
    status: str = dataclasses.field(default="success", init=False)


@dataclasses.dataclass(frozen=True)
class SummarySkipped:
    """A comparison that was skipped or could not be fetched, and why."""

    reason: str
    status: str = dataclasses.field(default="skipped", init=False)


@dataclasses.dataclass
class ExperimentSummary:
    """What `Experiment.summarize` (and an `Eval`) returns: names, links, and the comparison."""

    project_name: str
    project_id: Optional[str]
    experiment_id: Optional[str]
    experiment_name: str
    project_url: Optional[str]
    experiment_url: Optional[str]
    comparison_experiment_name: Optional[str]
    comparison: Union[SummarySuccess, SummarySkipped]

    @property
    def scores(self) -> dict:
        """Score summaries by name (empty when the comparison was skipped)."""
        return self.comparison.scores if isinstance(self.comparison, SummarySuccess) else {}

    @property
    def metrics(self) -> dict:
        """Metric summaries by name (empty when the comparison was skipped)."""
        return self.comparison.metrics if isinstance(self.comparison, SummarySuccess) else {}

    def as_dict(self) -> dict:
        """The summary as plain data (with the legacy top-level ``scores`` and ``metrics``)."""
        out = dataclasses.asdict(self)
        out["scores"] = {k: dataclasses.asdict(v) for k, v in self.scores.items()}
        out["metrics"] = {k: dataclasses.asdict(v) for k, v in self.metrics.items()}
        return out

    def __str__(self) -> str:
        comparison_line = ""
        if self.comparison_experiment_name:
            comparison_line = f"{self.experiment_name} compared to {self.comparison_experiment_name}:\n"
        if isinstance(self.comparison, SummarySkipped):
            result = f"Summary skipped: {self.comparison.reason}\n\n"
        else:
            result = (
                "\n".join(str(s) for s in self.comparison.scores.values())
                + ("\n\n" if self.comparison.scores else "")
                + "\n".join(str(m) for m in self.comparison.metrics.values())
                + ("\n\n" if self.comparison.metrics else "")
            )
        link = f"See results for {self.experiment_name} at {self.experiment_url}" if self.experiment_url is not None else ""
        return f"\n=========================SUMMARY=========================\n{comparison_line}{result}{link}"


def _validate_event(event: dict) -> dict:
    """The official SDK's checks of logged fields (scores in [0, 1], string keys, tags)."""
    scores = event.get("scores")
    if scores:
        for name, score in list(scores.items()):
            if not isinstance(name, str):
                raise ValueError("score names must be strings")
            if score is None:
                continue
            if isinstance(score, bool):
                scores[name] = 1 if score else 0
            elif not isinstance(score, (int, float)):
                raise ValueError("score values must be numbers")
            elif score < 0 or score > 1:
                raise ValueError("score values must be between 0 and 1")
    if event.get("metadata") is not None:
        event["metadata"] = validate_metadata(event["metadata"])
    metrics = event.get("metrics")
    if metrics:
        if not isinstance(metrics, dict):
            raise ValueError("metrics must be a dictionary")
        for key, value in metrics.items():
            if not isinstance(key, str):
                raise ValueError("metric keys must be strings")
            if not isinstance(value, (int, float)):
                raise ValueError("metric values must be numbers")
    if event.get("tags"):
        validate_tags(event["tags"])
    if "inputs" in event:
        if event.get("input") is not None:
            raise ValueError("Only one of input or inputs (deprecated) can be specified. Prefer input.")
        event["input"] = event.pop("inputs")
    return event


class _ExperimentFetcher(_ServerObject):
    """Reading an experiment's rows back (``POST /v1/experiment/{id}/fetch``)."""

    def fetch(self, batch_size: Optional[int] = None) -> Iterator[dict]:
        """Iterates over all rows of the experiment (every span of every trace)."""
        if getattr(self, "_fetched", None) is None:
            self._fetched = [enrich(e) for e in fetch_pages("experiment", self.id, batch_size or DEFAULT_FETCH_BATCH_SIZE)]
        yield from self._fetched

    def __iter__(self) -> Iterator[dict]:
        return self.fetch()


class Experiment(_LoggedObject, _ExperimentFetcher):
    """An experiment: one run of an evaluation, made of traced rows (each root usually an eval
    case) that the server summarizes and compares with a base experiment. Create it with `init`."""

    _is_experiment = True
    _id_field = "experiment_id"
    _row_noun = "an experiment row"

    def __init__(self, lazy: _LazyObject, dataset: Optional[Dataset] = None):
        self._lazy = lazy
        self.dataset = dataset
        self.last_start_time = time.time()
        self._called_start_span = False
        self._fetched: Optional[list] = None

    @property
    def _project_id(self) -> str:
        # Spans resumed from a slug compare the slug's object id with this.
        return self.id

    def start_span(
        self,
        name: Optional[str] = None,
        type: Optional[str] = None,
        span_attributes: Optional[dict] = None,
        start_time: Optional[float] = None,
        set_current: Optional[bool] = None,
        parent: Optional[str] = None,
        propagated_event: Optional[dict] = None,
        **event: Any,
    ) -> _span.Span:
        """A span of this experiment: a child of the current span if that span is in this
        experiment, else a new root (name ``"root"``, type ``"eval"`` by default)."""
        self._called_start_span = True
        return self._start_span(name, type, span_attributes, start_time, event)

    def _start_span(
        self, name: Optional[str], type: Optional[str], span_attributes: Optional[dict], start_time: Optional[float], event: dict, lookup_parent: bool = True
    ) -> _span.Span:
        current = _span._current.get() if lookup_parent else None
        parent = current if current is not None and current._logger is self else None
        if type is None and parent is None:
            type = "eval"
        event = _validate_event({k: v for k, v in event.items() if v is not None})
        if span_attributes:
            event["span_attributes"] = dict(span_attributes)
        if start_time is not None:
            event["metrics"] = {**(event.get("metrics") or {}), "start": start_time}
        return _span.Span(self, name, type, parent, event=event)

    def log(
        self,
        input: Any = None,
        output: Any = None,
        expected: Any = None,
        error: Any = None,
        tags: Optional[Sequence[str]] = None,
        scores: Optional[dict] = None,
        metadata: Optional[dict] = None,
        metrics: Optional[dict] = None,
        id: Optional[str] = None,
        dataset_record_id: Optional[str] = None,
        allow_concurrent_with_spans: bool = False,
        **event: Any,
    ) -> str:
        """Logs one complete eval row (a root span that starts where the previous ``log`` ended)
        and returns its id. ``input``, ``output`` and ``scores`` are required."""
        if self._called_start_span and not allow_concurrent_with_spans:
            raise Exception("Cannot run toplevel `log` method while using spans. To log to the span, call `experiment.start_span` and then log with `span.log`")
        if (input is None) == (event.get("inputs") is None):
            raise ValueError("Exactly one of input or inputs (deprecated) must be specified. Prefer input.")
        if output is None:
            raise ValueError("output must be specified")
        if scores is None:
            raise ValueError("scores must be specified")
        if not isinstance(scores, dict):
            raise ValueError("scores must be a dictionary of names with scores")
        fields = dict(input=input, output=output, expected=expected, error=error, tags=tags, scores=scores, metadata=metadata, metrics=metrics, id=id, **event)
        span = self._start_span(None, None, None, self.last_start_time, fields, lookup_parent=False)
        self.last_start_time = span.end()
        return span.id

    def log_feedback(
        self,
        id: str,
        scores: Optional[dict] = None,
        expected: Any = None,
        tags: Optional[Sequence[str]] = None,
        comment: Optional[str] = None,
        metadata: Optional[dict] = None,
        source: Optional[str] = None,
    ) -> None:
        """Adds feedback to the row ``id``: scores, expected and tags are merged into it, a comment
        is its own row; ``metadata`` is the audit metadata of the feedback."""
        _log_feedback(self._emit, id, scores, expected, tags, comment, metadata, source)

    def update_span(self, id: str, **event: Any) -> None:
        """Merges fields into the row ``id`` of this experiment (once it has been written)."""
        row = {"id": id, "_is_merge": True, **_validate_event({k: v for k, v in event.items() if v is not None})}
        self._emit(row)

    def summarize(self, summarize_scores: bool = True, comparison_experiment_id: Optional[str] = None) -> ExperimentSummary:
        """Flushes, then returns the experiment's links and (with ``summarize_scores``) its scores
        and metrics compared with ``comparison_experiment_id`` (else the server's choice: the base
        experiment, then the previous one in the project)."""
        self.flush()
        project_url = _project_url(self.project.name)
        experiment_url = f"{project_url}/experiments/{_encode(self.name)}"
        comparison_name = None
        if not summarize_scores:
            comparison: Union[SummarySuccess, SummarySkipped] = SummarySkipped(reason="Score summarization was disabled")
        else:
            try:
                items = api(
                    "GET",
                    f"/v1/experiment/{self.id}/summarize",
                    params={"summarize_scores": "true", "comparison_experiment_id": comparison_experiment_id},
                )
            except Exception as e:  # noqa: BLE001 - as the official SDK: warn and skip
                print(
                    f"Failed to fetch experiment scores and metrics: {e}\n\nView complete results in Braintrust or run experiment.summarize() again.",
                    file=sys.stderr,
                )
                comparison = SummarySkipped(reason="Experiment comparison could not be retrieved")
            else:
                comparison_name = items.get("comparison_experiment_name")
                score_items = items.get("scores") or {}
                metric_items = items.get("metrics") or {}
                longest_score = max((len(k) for k in score_items), default=0)
                longest_metric = max((len(k) for k in metric_items), default=0)
                comparison = SummarySuccess(
                    scores={k: ScoreSummary(_longest_score_name=longest_score, **v) for k, v in score_items.items()},
                    metrics={k: MetricSummary(_longest_metric_name=longest_metric, **v) for k, v in metric_items.items()},
                )
        return ExperimentSummary(
            project_name=self.project.name,
            project_id=self.project.id,
            experiment_id=self.id,
            experiment_name=self.name,
            project_url=project_url,
            experiment_url=experiment_url,
            comparison_experiment_name=comparison_name,
            comparison=comparison,
        )

    def fetch_base_experiment(self) -> Optional[ObjectMetadata]:
        """The experiment this one is compared with by default, or None."""
        state = _logger._state
        try:
            base = _logger._request("POST", f"{state.app_url}/api/base_experiment/get_id", state.api_key or "", {"id": self.id})
        except Exception as e:  # noqa: BLE001
            if getattr(e, "code", None) == 400:
                return None
            raise
        return ObjectMetadata(base["base_exp_id"], base["base_exp_name"], dict(base)) if base else None

    def export(self) -> str:
        """A slug naming this experiment (``start_span(parent=...)`` elsewhere)."""
        return _core.export_slug(self.id, experiment=True)


class ReadonlyExperiment(_ExperimentFetcher):
    """An existing experiment opened for reading (``init(..., open=True)``)."""

    def __init__(self, lazy: _LazyObject):
        self._lazy = lazy
        self._fetched: Optional[list] = None

    def as_dataset(self, batch_size: Optional[int] = None) -> Iterator[dict]:
        """The experiment's root rows as dataset records (``input``, ``expected`` (else
        ``output``), ``tags``, ``metadata``, ``id``, ``_xact_id``), e.g. to run an `Eval` on them."""
        for row in self.fetch(batch_size):
            if row.get("span_parents"):
                continue
            expected = row.get("expected")
            yield {
                "input": row.get("input"),
                "expected": expected if expected is not None else row.get("output"),
                "tags": row.get("tags"),
                "metadata": row.get("metadata"),
                "id": row["id"],
                "_xact_id": row["_xact_id"],
            }


def _log_feedback(emit: Any, id: str, scores: Any, expected: Any, tags: Any, comment: Any, metadata: Any, source: Any) -> None:
    source = source or "external"
    if source not in ("external", "app", "api"):
        raise ValueError("source must be one of ['external', 'app', 'api']")
    if scores is None and expected is None and tags is None and comment is None:
        raise ValueError("At least one of scores, expected, tags, or comment must be specified")
    update = _validate_event({"scores": scores, "expected": expected, "tags": tags, "metadata": metadata})
    audit_metadata = update.pop("metadata")
    update = {k: v for k, v in update.items() if v is not None}
    if update:
        emit({"id": id, **update, "_audit_source": source, "_audit_metadata": audit_metadata, "_is_merge": True})
    if comment is not None:
        emit(
            {
                "id": str(uuid.uuid4()),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "origin": {"id": id},
                "comment": {"text": comment},
                "_audit_source": source,
                "_audit_metadata": audit_metadata,
            }
        )


_current_experiment: Optional[Experiment] = None
_current_lock = threading.Lock()


def current_experiment() -> Optional[Experiment]:
    """The experiment made current by the last `init` (None if there is none)."""
    return _current_experiment


def init(
    project: Optional[str] = None,
    experiment: Optional[str] = None,
    description: Optional[str] = None,
    dataset: Optional[Union[Dataset, dict]] = None,
    parameters: Optional[dict] = None,
    open: bool = False,
    base_experiment: Optional[str] = None,
    is_public: bool = False,
    app_url: Optional[str] = None,
    api_key: Optional[str] = None,
    org_name: Optional[str] = None,
    metadata: Optional[dict] = None,
    tags: Optional[Sequence[str]] = None,
    git_metadata_settings: Any = None,
    set_current: bool = True,
    update: Optional[bool] = None,
    project_id: Optional[str] = None,
    base_experiment_id: Optional[str] = None,
    repo_info: Any = None,
    **_: Any,
) -> Any:
    """Creates an experiment in a project (the project is created if needed), or with
    ``open=True`` opens an existing one for reading. ``experiment`` names it (made unique unless
    ``update=True``); ``base_experiment``/``base_experiment_id`` choose what it is compared with;
    ``dataset`` links it to the dataset (and version) it was run on. Nothing touches the
    network until the experiment is used."""
    if project is None and project_id is None:
        raise ValueError("Must specify at least one of project or project_id")
    if open and update:
        raise ValueError("Cannot open and update an experiment at the same time")
    login_args = {"app_url": app_url, "api_key": api_key, "org_name": org_name}

    if open:
        if experiment is None:
            raise ValueError("Cannot open an experiment without specifying its name")

        def compute_open() -> tuple:
            _logger.login(**login_args)
            response = api(
                "GET",
                "/v1/experiment",
                params={"experiment_name": experiment, "project_name": project, "project_id": project_id, "org_name": _logger._state.org_name},
            )
            objects = (response or {}).get("objects") or []
            if not objects:
                raise ValueError(f"Experiment {experiment} not found in project {project}.")
            info = objects[0]
            return ObjectMetadata(info["project_id"], project or "UNKNOWN_PROJECT", {}), ObjectMetadata(info["id"], info["name"], info)

        return ReadonlyExperiment(_LazyObject(compute_open))

    if tags is not None:
        validate_tags(tags)

    def compute() -> tuple:
        _logger.login(**login_args)
        proj = resolve_project(project, project_id)
        args: dict = {"project_id": proj["id"], "ensure_new": update is not True}
        if experiment is not None:
            args["name"] = experiment
        if description is not None:
            args["description"] = description
        if repo_info:
            args["repo_info"] = repo_info if isinstance(repo_info, dict) else dataclasses.asdict(repo_info)
        if base_experiment_id is not None:
            args["base_exp_id"] = base_experiment_id
        elif base_experiment is not None:
            found = api("GET", "/v1/experiment", params={"experiment_name": base_experiment, "project_id": proj["id"], "org_name": _logger._state.org_name})
            objects = (found or {}).get("objects") or []
            if objects:
                args["base_exp_id"] = objects[0]["id"]
            else:
                print(f"Base experiment {base_experiment} not found.", file=sys.stderr)
        if dataset is not None:
            if isinstance(dataset, dict):
                args["dataset_id"] = dataset["id"]
                if "version" in dataset:
                    args["dataset_version"] = dataset["version"]
            else:
                args["dataset_id"] = dataset.id
                args["dataset_version"] = dataset.version
        if isinstance(parameters, dict) and parameters.get("id"):
            args["parameters_id"] = parameters["id"]
            if parameters.get("version") is not None:
                args["parameters_version"] = parameters["version"]
        args["public"] = is_public
        if metadata is not None:
            args["metadata"] = metadata
        if tags is not None:
            args["tags"] = list(tags)
        response = api("POST", "/v1/experiment", args)
        return ObjectMetadata(proj["id"], proj["name"], dict(proj)), ObjectMetadata(response["id"], response["name"], dict(response))

    exp = Experiment(
        _LazyObject(compute, f"experiment {experiment!r}" if experiment else "experiment"), dataset=dataset if isinstance(dataset, Dataset) else None
    )
    if set_current:
        global _current_experiment
        with _current_lock:
            _current_experiment = exp
    return exp


def _experiment_by_id(experiment_id: str) -> Experiment:
    """An experiment known by id (e.g. from an export slug), looked up when first used."""

    def compute() -> tuple:
        _logger.login()
        info = api("GET", f"/v1/experiment/{experiment_id}")
        proj = api("GET", f"/v1/project/{info['project_id']}")
        return ObjectMetadata(proj["id"], proj["name"], dict(proj)), ObjectMetadata(info["id"], info["name"], dict(info))

    return Experiment(_LazyObject(compute))


def init_experiment(*args: Any, **kwargs: Any) -> Any:
    """Alias of `init`."""
    return init(*args, **kwargs)


def summarize(summarize_scores: bool = True, comparison_experiment_id: Optional[str] = None) -> ExperimentSummary:
    """Summarizes the current experiment (see `Experiment.summarize`)."""
    if _current_experiment is None:
        raise Exception("Not initialized. Please call init() first")
    return _current_experiment.summarize(summarize_scores=summarize_scores, comparison_experiment_id=comparison_experiment_id)
