"""`Eval` / `EvalAsync`: run a task over a dataset, score each output, log every case as a traced
experiment row (an ``eval`` root with a ``task`` child and one ``score`` child per scorer) and
print the summary the server computes, with improvements and regressions against the base
experiment. Mirrors the official SDK's behaviour and printed output, progress bars included."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from . import _span
from ._dataset import Dataset
from ._experiment import ExperimentSummary, ScoreSummary, SummarySuccess, init
from ._score import Score, is_score, is_scorer


def _eprint(*args: Any) -> None:
    print(*args, file=sys.stderr)


@dataclasses.dataclass
class EvalCase:
    """One case of an evaluation: the input, optionally the expected output, metadata and tags.
    ``id``, ``_xact_id``, ``created`` and ``origin`` are set for dataset records."""

    input: Any
    expected: Any = None
    metadata: Optional[dict] = None
    tags: Optional[Sequence[str]] = None
    trial_count: Optional[int] = None
    id: Optional[str] = None
    _xact_id: Optional[str] = None
    created: Optional[str] = None
    origin: Optional[dict] = None
    upsert_id: Optional[str] = None

    @classmethod
    def from_dict(cls, d: Mapping) -> EvalCase:
        """A case from a dict (a data item or a dataset record); unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclasses.dataclass
class EvalResult:
    """The outcome of one case: output, scores, and the error if the task or a scorer failed."""

    input: Any
    output: Any
    scores: dict
    classifications: Optional[dict] = None
    expected: Any = None
    metadata: Optional[dict] = None
    tags: Optional[list] = None
    error: Optional[BaseException] = None
    exc_info: Optional[str] = None
    origin: Optional[dict] = None


@dataclasses.dataclass
class EvalResultWithSummary:
    """What `Eval` returns: the per-case results and the experiment summary."""

    summary: ExperimentSummary
    results: list

    def __repr__(self) -> str:
        return 'EvalResultWithSummary(summary="...", results=[...])'


@dataclasses.dataclass
class BaseExperiment:
    """Use as ``data`` to evaluate on the cases of a previous experiment (``name``, else the
    server's base experiment for the new one)."""

    name: Optional[str] = None


@dataclasses.dataclass
class Classification:
    """A classifier's result: a label id (and optional name, label, metadata)."""

    id: str
    name: Optional[str] = None
    label: Optional[str] = None
    metadata: Optional[dict] = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("classification id must be a non-empty string")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError("classification name must be a non-empty string when provided")
        if self.label is not None and not isinstance(self.label, str):
            raise ValueError("classification label must be a string when provided")

    def as_dict(self) -> dict:
        """The fields that are set."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None or k == "id"}

    def as_item(self) -> dict:
        """``{"id", "label"?, "metadata"?}`` as stored under ``classifications``."""
        item: dict = {"id": self.id}
        if self.label is not None:
            item["label"] = self.label
        if self.metadata is not None:
            item["metadata"] = self.metadata
        return item


class SpanData:
    """One span of a trace as `Trace.get_spans` returns it: the row's fields as attributes."""

    def __init__(self, **fields: Any):
        for key in ("input", "output", "metadata", "expected", "error", "scores", "metrics", "span_id", "span_parents", "span_attributes", "tags"):
            setattr(self, key, None)
        for key, value in fields.items():
            setattr(self, key, value)

    def to_dict(self) -> dict:
        """The span's fields that are set."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Trace(dict):
    """The trace of the case being scored, passed to scorers that take a ``trace`` argument:
    `get_spans` reads its spans back from the server (after flushing). As a dict it is
    ``{"trace_ref": {object_type, object_id, root_span_id}}``."""

    def __init__(self, object_type: str, object_id: str, root_span_id: str, flush: Callable[[], None]):
        super().__init__({"trace_ref": {"object_type": object_type, "object_id": object_id, "root_span_id": root_span_id}})
        self._flush = flush
        self._rows: Optional[list] = None

    def get_configuration(self) -> dict:
        """``{"object_type", "object_id", "root_span_id"}``."""
        return dict(self["trace_ref"])

    async def get_spans(self, span_type: Optional[list] = None, *, filters: Optional[dict] = None, include_scorers: bool = False) -> list:
        """The trace's spans (without the scorers' own spans unless ``include_scorers``), of the
        given ``span_type``\ s (``filters={"span_type": [...]}`` also works) when given."""
        if self._rows is None:
            self._rows = await asyncio.get_running_loop().run_in_executor(None, self._fetch)
        types = span_type or (filters or {}).get("span_type")
        out = []
        for row in self._rows:
            attrs = row.get("span_attributes") or {}
            if not include_scorers and attrs.get("purpose") == "scorer":
                continue
            if types and attrs.get("type") not in types:
                continue
            out.append(SpanData(**{k: v for k, v in row.items() if not k.startswith("_")}))
        return out

    def _fetch(self) -> list:
        from ._dataset import api

        self._flush()
        ref = self["trace_ref"]
        root = {"op": "eq", "left": {"op": "ident", "name": ["root_span_id"]}, "right": {"op": "literal", "value": ref["root_span_id"]}}
        rows, cursor = [], None
        while True:
            query = {
                "select": [{"op": "star"}],
                "from": {"op": "function", "name": {"op": "ident", "name": [ref["object_type"]]}, "args": [{"op": "literal", "value": ref["object_id"]}]},
                "filter": root,
                "cursor": cursor,
                "limit": 1000,
            }
            page = api("POST", "/btql", {"query": query, "use_columnstore": False, "brainstore_realtime": True, "query_source": "py_sdk_span_fetcher"})
            rows.extend(page.get("data") or [])
            cursor = page.get("cursor")
            if not cursor:
                return rows


class EvalHooks(dict):
    """Passed to a task that takes a second argument: the case's ``metadata`` and ``tags`` (both
    editable, and logged), ``expected``, ``trial_index``, and ``span`` (the task span)."""

    def __init__(
        self,
        metadata: Optional[dict] = None,
        expected: Any = None,
        trial_index: int = 0,
        tags: Optional[Sequence[str]] = None,
        parameters: Any = None,
        cancel_event: Optional[threading.Event] = None,
    ):
        super().__init__()
        if metadata is not None:
            self["metadata"] = metadata
        if expected is not None:
            self["expected"] = expected
        self["trial_index"] = trial_index
        self["tags"] = list(tags) if isinstance(tags, (list, tuple, set)) else ([] if tags is None else tags)
        self._span: Any = None
        self._parameters = parameters
        self._cancel_event = cancel_event or threading.Event()

    @property
    def metadata(self) -> Optional[dict]:
        """The case's metadata; changes are logged on the eval row."""
        return self.get("metadata")

    @property
    def expected(self) -> Any:
        """The case's expected output."""
        return self.get("expected")

    @property
    def trial_index(self) -> int:
        """The trial (0-based) when ``trial_count > 1``."""
        return self.get("trial_index", 0)

    @property
    def span(self) -> Any:
        """The task span (also `current_span()` inside the task)."""
        return self._span

    def set_span(self, span: Any) -> None:
        """Sets the task span."""
        self._span = span

    @property
    def tags(self) -> Sequence[str]:
        """The case's tags; changes are logged on the eval row."""
        return self["tags"]

    @tags.setter
    def tags(self, tags: Optional[Sequence[str]]) -> None:
        self["tags"] = [] if tags is None else list(tags)

    @property
    def parameters(self) -> Any:
        """The evaluator's parameters."""
        return self._parameters

    @property
    def cancel_event(self) -> threading.Event:
        """Set when the evaluation is cancelled or times out."""
        return self._cancel_event

    def meta(self, **info: Any) -> None:
        """Deprecated: adds metadata (edit ``hooks.metadata`` instead)."""
        if self.get("metadata") is None:
            self["metadata"] = {}
        self["metadata"].update(info)

    def report_progress(self, progress: Any) -> None:
        """Progress events go to the playground, which a local run does not have."""


@dataclasses.dataclass
class Evaluator:
    """An evaluation as `Eval` received it."""

    project_name: str
    eval_name: str
    data: Any
    task: Callable
    scores: list
    experiment_name: Optional[str]
    metadata: Optional[dict]
    trial_count: int = 1
    max_concurrency: Optional[int] = None
    timeout: Optional[float] = None
    error_score_handler: Optional[Callable] = None
    summarize_scores: bool = True
    base_experiment_id: Optional[str] = None
    classifiers: Optional[list] = None
    parameters: Any = None
    project_id: Optional[str] = None


@dataclasses.dataclass
class ReporterDef:
    """How an `Eval` reports its result: ``report_eval(evaluator, result, verbose, jsonl)`` is
    called with the `EvalResultWithSummary` instead of printing the summary; ``report_run``
    judges a whole run of evaluators (used by eval runners)."""

    name: str
    report_eval: Callable
    report_run: Callable


def Reporter(name: str, report_eval: Callable, report_run: Callable) -> ReporterDef:
    """A reporter to pass as ``Eval(..., reporter=...)``."""
    return ReporterDef(name=name, report_eval=report_eval, report_run=report_run)


def default_error_score_handler(root_span: Any, data: EvalCase, unhandled_scores: list) -> dict:
    """Logs a 0 score on the eval row for every scorer that did not run (pass as ``error_score_handler``)."""
    scores = {s: 0 for s in unhandled_scores}
    root_span.log(scores=scores)
    return scores


_POOL: Optional[ThreadPoolExecutor] = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count(), thread_name_prefix="spanloom-eval")
        return _POOL


def _is_async(f: Any) -> bool:
    return inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) or (not inspect.isroutine(f) and inspect.iscoroutinefunction(type(f).__call__))


async def _await_or_run(f: Callable, *args: Any, **kwargs: Any) -> Any:
    """Awaits an async function; runs a sync one on the eval thread pool in a copy of the
    caller's context (so spans it starts are children of the current span)."""
    if _is_async(f):
        return await f(*args, **kwargs)
    ctx = contextvars.copy_context()
    result = await asyncio.get_running_loop().run_in_executor(_pool(), functools.partial(ctx.run, f, *args, **kwargs))
    if inspect.isawaitable(result):
        result = await result
    return result


def _call_args(fn: Callable, kwargs: dict) -> dict:
    """The keyword arguments ``fn`` takes from ``kwargs`` (the official SDK's matching: by name,
    then remaining values in order for unmatched required parameters, the rest for ``**kwargs``)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return kwargs
    kwargs = dict(kwargs)
    out: dict = {}
    accepts_kwargs = False
    for name, param in signature.parameters.items():
        if param.kind == inspect.Parameter.VAR_KEYWORD:
            accepts_kwargs = True
            continue
        if param.kind == inspect.Parameter.VAR_POSITIONAL:
            continue
        if name in kwargs:
            out[name] = kwargs.pop(name)
        elif param.default is not inspect.Parameter.empty:
            out[name] = param.default
        elif kwargs:
            out[name] = kwargs.pop(next(iter(kwargs)))
    if accepts_kwargs:
        out.update(kwargs)
    return out


def _callable_name(obj: Any, idx: int, prefix: str) -> str:
    if hasattr(obj, "_name"):
        name = obj._name()
    elif hasattr(obj, "__name__"):
        name = obj.__name__
    else:
        name = type(obj).__name__
    return f"{prefix}_{idx}" if name == "<lambda>" else name


def _normalize_score(value: Any, message: str) -> Any:
    original = value
    if isinstance(value, dict):
        try:
            value = Score.from_dict(value)
        except Exception as e:
            raise ValueError(f"{message} Got: {original}") from e
    if not is_score(value):
        raise ValueError(f"{message} Got: {original}")
    return value


def _span_metadata(results: list) -> Optional[dict]:
    if not results:
        return None
    if len(results) == 1:
        return results[0].metadata
    grouped: dict = {}
    for r in results:
        if r.name not in grouped:
            grouped[r.name] = r.metadata
        elif isinstance(grouped[r.name], list):
            grouped[r.name].append(r.metadata)
        else:
            grouped[r.name] = [grouped[r.name], r.metadata]
    return grouped


def _origin(datum: EvalCase, dataset: Optional[Dataset]) -> Optional[dict]:
    if dataset is not None and isinstance(datum.id, str) and datum.id and isinstance(datum._xact_id, str) and datum._xact_id:
        origin = {"object_type": "dataset", "object_id": dataset.id, "id": datum.id, "_xact_id": datum._xact_id}
        if isinstance(datum.created, str):
            origin["created"] = datum.created
        return origin
    value = datum.origin
    types = {"project_logs", "experiment", "dataset", "prompt", "function", "prompt_session"}
    if isinstance(value, Mapping) and value.get("object_type") in types and isinstance(value.get("object_id"), str) and isinstance(value.get("id"), str):
        out = {"object_type": value["object_type"], "object_id": value["object_id"], "id": value["id"]}
        for key in ("_xact_id", "created"):
            if key in value:
                if value[key] is not None and not isinstance(value[key], str):
                    return None
                out[key] = value[key]
        return out
    return None


def _logged(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k != "trace"}


async def _run_scorer(root: Any, scorer: Any, name: str, kwargs: dict) -> list:
    with root.start_span(name=name, span_attributes={"type": "score", "purpose": "scorer"}, input=_logged(kwargs)) as span:
        fn = scorer.eval_async if hasattr(scorer, "eval_async") else scorer
        result = await _await_or_run(fn, **_call_args(fn, kwargs))
        if isinstance(result, dict):
            if "name" not in result and "score" in result:
                result = {"name": name, **result}
            result = _normalize_score(result, "When returning a dict, it must be a valid Score object.")
        if isinstance(result, Iterable) and not isinstance(result, (str, bytes, Mapping)):
            result = [_normalize_score(s, "When returning an array of scores, each score must be a valid Score object.") for s in result]
        elif is_score(result):
            result = [result]
        else:
            result = [Score(name=name, score=result)]

        def other_fields(s: Any) -> dict:
            return {k: v for k, v in s.as_dict().items() if k not in ("metadata", "name")}

        output = {r.name: other_fields(r) for r in result} if len(result) != 1 else other_fields(result[0])
        span.log(output=output, metadata=_span_metadata(result), scores={r.name: r.score for r in result})
        return result


async def _run_classifier(root: Any, classifier: Any, name: str, kwargs: dict) -> Optional[list]:
    with root.start_span(name=name, span_attributes={"type": "classifier", "purpose": "scorer"}, input=_logged(kwargs)) as span:
        result = await _await_or_run(classifier, **_call_args(classifier, kwargs))
        if result is None:
            return None
        raw = list(result) if isinstance(result, Iterable) and not isinstance(result, (str, bytes, Mapping)) else [result]
        out = []
        for r in raw:
            if isinstance(r, Mapping):
                if not r:
                    raise ValueError(f"When returning structured classifier results, each classification must be a non-empty object. Got: {r}")
                c = Classification(**{k: v for k, v in r.items() if k in ("id", "name", "label", "metadata")})
            elif hasattr(r, "id") and hasattr(r, "metadata"):
                c = Classification(id=r.id, name=getattr(r, "name", None), label=getattr(r, "label", None), metadata=r.metadata)
            else:
                raise ValueError(f"When returning structured classifier results, each classification must be a non-empty object. Got: {r}")
            if not c.name:
                c.name = name
            out.append(c)
        if out:
            items = [c.as_item() for c in out]
            span.log(output=items[0] if len(items) == 1 else {c.name: c.as_item() for c in out}, metadata=out[0].metadata if len(out) == 1 else None)
        else:
            span.log(output={})
        return out


async def _run_case(
    evaluator: Evaluator,
    experiment: Any,
    dataset: Optional[Dataset],
    scorers: list,
    scorer_names: list,
    classifiers: list,
    classifier_names: list,
    datum: Any,
    trial_index: int,
    parent: Optional[str],
    cancel_event: threading.Event,
) -> EvalResult:
    if isinstance(datum, Mapping):
        datum = EvalCase.from_dict(datum)
    metadata = {**(datum.metadata or {})}
    output = None
    error: Optional[BaseException] = None
    exc_info = None
    scores: dict = {}
    classifications: dict = {}
    unhandled = list(scorer_names)
    tags = datum.tags
    origin = _origin(datum, dataset)
    event: dict = {"input": datum.input, "expected": datum.expected, "tags": tags}
    if origin is not None:
        event["origin"] = origin
    if datum.upsert_id:
        event["id"] = datum.upsert_id if trial_index == 0 else str(uuid.uuid5(uuid.NAMESPACE_URL, f"braintrust:eval:{datum.upsert_id}:trial:{trial_index}"))
    if experiment is not None:
        root: Any = _span.Span(experiment, "eval", "eval", None, event={k: v for k, v in event.items() if v is not None})
    elif parent is not None:
        root = _span.start_span(name="eval", type="eval", parent=parent, **event)
    else:
        root = _span.NOOP_SPAN
    hooks: Optional[EvalHooks] = None
    error_scores: dict = {}
    with root:
        try:
            hooks = EvalHooks(metadata, expected=datum.expected, trial_index=trial_index, tags=tags, parameters=evaluator.parameters, cancel_event=cancel_event)
            args = [datum.input]
            try:
                if len(inspect.signature(evaluator.task).parameters) == 2:
                    args.append(hooks)
            except (TypeError, ValueError):
                pass
            with root.start_span(name="task", type="task") as task_span:
                hooks.set_span(task_span)
                if cancel_event.is_set():
                    raise asyncio.CancelledError
                output = await _await_or_run(evaluator.task, *args)
                task_span.log(input=args[0], output=output)
            tags = hooks.tags if hooks.tags else None
            root.log(output=output, metadata=metadata, tags=tags)
            trace = None
            if experiment is not None:
                trace = Trace("experiment", experiment.id, root.root_span_id, experiment.flush)
            kwargs = {"input": datum.input, "expected": datum.expected, "metadata": metadata, "output": output, "trace": trace, "id": datum.id, "tags": tags}
            score_tasks = [asyncio.ensure_future(_run_scorer(root, s, n, kwargs)) for s, n in zip(scorers, scorer_names)]
            class_tasks = [asyncio.ensure_future(_run_classifier(root, c, n, kwargs)) for c, n in zip(classifiers, classifier_names)]
            failing: list = []
            failing_classifiers: list = []
            try:
                for name, t in zip(scorer_names, score_tasks):
                    try:
                        for s in await t:
                            scores[s.name] = s.score
                    except Exception as e:  # noqa: BLE001 - a failing scorer is reported, the others still count
                        failing.append((name, e, _span.error_text(e)))
                for name, t in zip(classifier_names, class_tasks):
                    try:
                        for c in (await t) or []:
                            classifications.setdefault(c.name, []).append(c.as_item())
                    except Exception as e:  # noqa: BLE001
                        failing_classifiers.append((name, e, _span.error_text(e)))
            finally:
                pending = [t for t in (*score_tasks, *class_tasks) if not t.done()]
                for t in pending:
                    t.cancel()
                await asyncio.gather(*score_tasks, *class_tasks, return_exceptions=True)
            if classifications:
                root.log(classifications=classifications)
            unhandled = []
            if failing:
                metadata["scorer_errors"] = {name: info for name, _, info in failing}
                unhandled = list(metadata["scorer_errors"])
                _eprint(f"Found exceptions for the following scorers: {', '.join(unhandled)}", [e for _, e, _ in failing])
            if failing_classifiers:
                metadata["classifier_errors"] = {name: info for name, _, info in failing_classifiers}
                _eprint(f"Found exceptions for the following classifiers: {', '.join(metadata['classifier_errors'])}", [e for _, e, _ in failing_classifiers])
            if failing or failing_classifiers:
                root.log(metadata=metadata, tags=tags)
        except Exception as e:  # noqa: BLE001 - the task's error is the case's result
            if hooks is not None:
                tags = hooks.tags if hooks.tags else None
            root.log(error=_span.error_text(e), tags=tags)
            error = e
            exc_info = traceback.format_exc()
        if evaluator.error_score_handler is not None and unhandled:
            try:
                error_scores = evaluator.error_score_handler(root, datum, list(unhandled)) or {}
            except Exception as e:  # noqa: BLE001
                _eprint(f"Error score handler failed for scorers: {', '.join(unhandled)}", e)
    return EvalResult(
        input=datum.input,
        expected=datum.expected,
        metadata=metadata,
        tags=tags,
        output=output,
        scores={**error_scores, **scores},
        classifications=classifications or None,
        error=error,
        exc_info=exc_info,
        origin=origin,
    )


async def _iterate(data: Any, evaluator: Evaluator, experiment: Any) -> Any:
    """The cases of ``data`` as an async iterator (list, iterator, callable, Dataset, async
    generator, awaitable, class, or `BaseExperiment`)."""
    if inspect.isclass(data):
        data = data()
    if isinstance(data, BaseExperiment):
        if experiment is None:
            raise ValueError("Cannot use BaseExperiment() without connecting to the server (you most likely set no_send_logs)")
        name = data.name
        if name is None:
            base = experiment.fetch_base_experiment()
            if base is None:
                raise Exception("BaseExperiment() failed to fetch base experiment")
            name = base.name
        data = init(
            project=evaluator.project_name if evaluator.project_id is None else None,
            project_id=evaluator.project_id,
            experiment=name,
            open=True,
            set_current=False,
        ).as_dataset()
    if inspect.isfunction(data) or inspect.isroutine(data):
        data = data()
    if inspect.isawaitable(data):
        data = await data
    if hasattr(data, "__aiter__"):
        async for d in data:
            yield d
    else:
        for d in data:
            yield d


def _progress(items: Any, desc: str, is_async: bool = False) -> Any:
    """`items` behind a tqdm progress bar on stderr ("<eval> (data)", "<eval> (tasks)"), as
    the official SDK draws them, when `tqdm` is installed (`TQDM_DISABLE=1` hides them);
    the items themselves otherwise."""
    try:
        if is_async:
            from tqdm.asyncio import tqdm
        else:
            from tqdm.auto import tqdm
    except ImportError:
        return items
    return tqdm(items, desc=desc, position=0)


async def _run_evaluator(evaluator: Evaluator, experiment: Any, dataset: Optional[Dataset], parent: Optional[str], cancel_event: threading.Event) -> list:
    scorers = [s() if inspect.isclass(s) and is_scorer(s) else s for s in evaluator.scores]
    scorer_names = [_callable_name(s, i, "scorer") for i, s in enumerate(scorers)]
    classifiers = list(evaluator.classifiers or [])
    classifier_names = [_callable_name(c, i, "classifier") for i, c in enumerate(classifiers)]
    semaphore = asyncio.Semaphore(evaluator.max_concurrency) if evaluator.max_concurrency is not None else None

    async def one(datum: Any, trial_index: int) -> Optional[EvalResult]:
        if cancel_event.is_set():
            return None
        if semaphore is None:
            return await _run_case(
                evaluator, experiment, dataset, scorers, scorer_names, classifiers, classifier_names, datum, trial_index, parent, cancel_event
            )
        async with semaphore:
            if cancel_event.is_set():
                return None
            return await _run_case(
                evaluator, experiment, dataset, scorers, scorer_names, classifiers, classifier_names, datum, trial_index, parent, cancel_event
            )

    tasks = []
    try:
        async for datum in _progress(_iterate(evaluator.data, evaluator, experiment), f"{evaluator.eval_name} (data)", is_async=True):
            if cancel_event.is_set():
                break
            per_datum = datum.get("trial_count") if isinstance(datum, Mapping) else getattr(datum, "trial_count", None)
            for trial_index in range(per_datum if per_datum is not None else evaluator.trial_count):
                tasks.append(asyncio.ensure_future(one(datum, trial_index)))
        if not tasks and not cancel_event.is_set():
            _eprint(f"\033[93mWarning: no data rows found for evaluator '{evaluator.eval_name}'. The experiment will be empty.\033[0m")
        results = []
        for t in _progress(tasks, f"{evaluator.eval_name} (tasks)"):
            r = await t
            if r is not None:
                results.append(r)
        return results
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _local_summary(evaluator: Evaluator, results: list) -> ExperimentSummary:
    totals: dict = {}
    for r in results:
        for name, score in r.scores.items():
            if score is None:
                continue
            total, count = totals.get(name, (0.0, 0))
            totals[name] = (total + score, count + 1)
    longest = max((len(n) for n in totals), default=0)
    scores = {n: ScoreSummary(name=n, _longest_score_name=longest, score=t / c, improvements=0, regressions=0, diff=None) for n, (t, c) in totals.items()}
    return ExperimentSummary(
        project_name=evaluator.project_name,
        project_id=None,
        experiment_id=None,
        experiment_name=evaluator.eval_name,
        project_url=None,
        experiment_url=None,
        comparison_experiment_name=None,
        comparison=SummarySuccess(scores=scores, metrics={}),
    )


def _report(evaluator: Evaluator, result: EvalResultWithSummary) -> bool:
    failing = [r for r in result.results if r.error]
    if failing:
        _eprint(f"\033[91mEvaluator {evaluator.eval_name} failed with {len(failing)} {'error' if len(failing) == 1 else 'errors'}\033[0m")
        info = "".join(r.exc_info or "" for r in failing).rstrip()
        _eprint(f"\033[91m{info}\033[0m")
        _eprint("\033[91mAdd --verbose to see full stack traces.\033[0m")
    else:
        print(f"{result.summary}")
    return not failing


def _eval_common(
    name: str,
    data: Any,
    task: Callable,
    scores: Optional[Sequence[Any]],
    classifiers: Optional[Sequence[Any]],
    experiment_name: Optional[str],
    trial_count: int,
    metadata: Optional[dict],
    tags: Optional[Sequence[str]],
    is_public: bool,
    update: bool,
    reporter: Any,
    timeout: Optional[float],
    max_concurrency: Optional[int],
    project_id: Optional[str],
    base_experiment_name: Optional[str],
    base_experiment_id: Optional[str],
    repo_info: Any,
    error_score_handler: Optional[Callable],
    description: Optional[str],
    summarize_scores: bool,
    no_send_logs: bool,
    parameters: Any,
    on_start: Optional[Callable],
    parent: Optional[str],
    cancel_event: Optional[threading.Event],
) -> Callable:
    if scores is None and classifiers is None:
        raise ValueError("At least one of `scores` or `classifiers` must be provided.")
    eval_name = name if experiment_name is None else f"{name} [experiment_name={experiment_name}]"
    evaluator = Evaluator(
        project_name=name,
        eval_name=eval_name,
        data=data,
        task=task,
        scores=list(scores or []),
        classifiers=list(classifiers) if classifiers is not None else None,
        experiment_name=experiment_name,
        metadata=metadata,
        trial_count=trial_count,
        max_concurrency=max_concurrency,
        timeout=timeout,
        error_score_handler=error_score_handler,
        summarize_scores=summarize_scores,
        base_experiment_id=base_experiment_id,
        parameters=parameters,
        project_id=project_id,
    )
    if base_experiment_name is None and isinstance(data, BaseExperiment):
        base_experiment_name = data.name
    dataset = data if isinstance(data, Dataset) else None
    experiment = None
    if not no_send_logs and parent is None:
        experiment = init(
            project=name if project_id is None else None,
            project_id=project_id,
            experiment=experiment_name,
            description=description,
            metadata=metadata,
            tags=tags,
            is_public=is_public,
            update=update,
            base_experiment=base_experiment_name,
            base_experiment_id=base_experiment_id,
            repo_info=repo_info,
            dataset=dataset,
            set_current=False,
        )
        start_summary = experiment.summarize(summarize_scores=False)
        _eprint(f"Experiment {experiment.name} is running at {start_summary.experiment_url}")
        if on_start:
            on_start(start_summary)
    event = cancel_event or threading.Event()

    async def run() -> EvalResultWithSummary:
        try:
            worker = _run_evaluator(evaluator, experiment, dataset, parent, event)
            try:
                results = await (asyncio.wait_for(worker, timeout) if timeout is not None else _until_cancelled(worker, event))
            except asyncio.TimeoutError:
                event.set()
                raise
            if experiment is not None:
                comparison = base_experiment_id
                if comparison is None:
                    value = experiment.data.get("base_exp_id")
                    comparison = value if isinstance(value, str) and value else None
                summary = experiment.summarize(summarize_scores=summarize_scores, comparison_experiment_id=comparison)
            else:
                summary = _local_summary(evaluator, results)
            result = EvalResultWithSummary(summary=summary, results=results)
            if reporter is not None and hasattr(reporter, "report_eval"):
                report = reporter.report_eval(evaluator, result, verbose=True, jsonl=False)
                if inspect.isawaitable(report):
                    await report
            elif isinstance(reporter, str):
                raise ValueError("Must specify a reporter object, not a name. Can only specify reporter names when running 'braintrust eval'")
            else:
                _report(evaluator, result)
            return result
        finally:
            if experiment is not None:
                experiment.flush()
            elif parent is not None:
                from ._logger import flush

                flush()

    return run


async def _until_cancelled(worker: Any, event: threading.Event) -> Any:
    """Runs ``worker``; cancels it when ``event`` is set (``cancel_event=``)."""
    task = asyncio.ensure_future(worker)
    while not task.done():
        await asyncio.wait([task], timeout=0.05)
        if event.is_set() and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise asyncio.CancelledError("Evaluator cancelled")
    return task.result()


_warned_async = False


def Eval(
    name: str,
    data: Any,
    task: Callable,
    scores: Optional[Sequence[Any]] = None,
    classifiers: Optional[Sequence[Any]] = None,
    experiment_name: Optional[str] = None,
    trial_count: int = 1,
    metadata: Optional[dict] = None,
    tags: Optional[Sequence[str]] = None,
    is_public: bool = False,
    update: bool = False,
    reporter: Any = None,
    timeout: Optional[float] = None,
    max_concurrency: Optional[int] = None,
    project_id: Optional[str] = None,
    base_experiment_name: Optional[str] = None,
    base_experiment_id: Optional[str] = None,
    git_metadata_settings: Any = None,
    repo_info: Any = None,
    error_score_handler: Optional[Callable] = None,
    description: Optional[str] = None,
    summarize_scores: bool = True,
    no_send_logs: bool = False,
    parameters: Any = None,
    on_start: Optional[Callable] = None,
    stream: Optional[Callable] = None,
    parent: Optional[str] = None,
    state: Any = None,
    enable_cache: bool = True,
    cancel_event: Optional[threading.Event] = None,
    base_experiment: Optional[str] = None,
) -> Any:
    """Runs an evaluation in the project ``name``: ``task`` on every case of ``data`` (a list, a
    callable returning an iterable, a `Dataset`, ...), ``trial_count`` times, each output scored
    by every scorer (functions returning a number, a dict or a `Score`, or scorer classes such as
    ``autoevals``'s). Every case is logged as an experiment trace; the summary (compared with
    ``base_experiment_name``/``base_experiment_id``, else the server's choice) is printed and
    returned in an `EvalResultWithSummary`. From inside a running event loop this returns a task
    (prefer `EvalAsync` there). ``base_experiment`` is an alias of ``base_experiment_name``."""
    run = _eval_common(
        name, data, task, scores, classifiers, experiment_name, trial_count, metadata, tags, is_public, update, reporter, timeout,
        max_concurrency, project_id, base_experiment_name or base_experiment, base_experiment_id, repo_info, error_score_handler,
        description, summarize_scores, no_send_logs, parameters, on_start, parent, cancel_event,
    )  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        global _warned_async
        if not _warned_async:
            _warned_async = True
            _eprint("`Eval()` was called from an async context. For better performance, it is recommended to use `await EvalAsync()` instead.")
        return loop.create_task(run())
    return asyncio.run(run())


async def EvalAsync(
    name: str,
    data: Any,
    task: Callable,
    scores: Optional[Sequence[Any]] = None,
    classifiers: Optional[Sequence[Any]] = None,
    experiment_name: Optional[str] = None,
    trial_count: int = 1,
    metadata: Optional[dict] = None,
    tags: Optional[Sequence[str]] = None,
    is_public: bool = False,
    update: bool = False,
    reporter: Any = None,
    timeout: Optional[float] = None,
    max_concurrency: Optional[int] = None,
    project_id: Optional[str] = None,
    base_experiment_name: Optional[str] = None,
    base_experiment_id: Optional[str] = None,
    git_metadata_settings: Any = None,
    repo_info: Any = None,
    error_score_handler: Optional[Callable] = None,
    description: Optional[str] = None,
    summarize_scores: bool = True,
    no_send_logs: bool = False,
    parameters: Any = None,
    on_start: Optional[Callable] = None,
    stream: Optional[Callable] = None,
    parent: Optional[str] = None,
    state: Any = None,
    enable_cache: bool = True,
    cancel_event: Optional[threading.Event] = None,
    base_experiment: Optional[str] = None,
) -> EvalResultWithSummary:
    """`Eval` for async code: same arguments, awaited in the caller's event loop."""
    run = _eval_common(
        name, data, task, scores, classifiers, experiment_name, trial_count, metadata, tags, is_public, update, reporter, timeout,
        max_concurrency, project_id, base_experiment_name or base_experiment, base_experiment_id, repo_info, error_score_handler,
        description, summarize_scores, no_send_logs, parameters, on_start, parent, cancel_event,
    )  # fmt: skip
    return await run()
