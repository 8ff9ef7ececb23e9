"""Spans: `start_span`, `traced`, `current_span`, export slugs. Context lives in a
`contextvars.ContextVar`, so threads and asyncio tasks see the span they were started in."""

from __future__ import annotations

import contextvars
import functools
import inspect
import itertools
import random
import sys
import time
import traceback
from typing import Any, Callable, Optional

from . import _core, _logger

_current: contextvars.ContextVar[Optional[Span]] = contextvars.ContextVar("spanloom_current_span", default=None)

# The OpenTelemetry bridge (`spanloom.otel` installs it): mirrors the current spanloom span
# into the OTel context, so OTel spans started inside it are its children, and tells
# `start_span` when an OTel span is the innermost parent. None: no OTel interop.
_bridge: Any = None


def _enter(span: Any) -> tuple:
    """Makes `span` current (and, with the OTel bridge, the current OTel parent); returns the
    tokens `_leave` needs."""
    token = _current.set(span)
    otel_token = None
    bridge = _bridge
    if bridge is not None:
        try:
            otel_token = bridge.attach(span)
        except Exception:  # noqa: BLE001 - interop never breaks tracing
            otel_token = None
    return token, otel_token


def _leave(tokens: tuple) -> None:
    """Undoes `_enter`. A token from another context (a `with` block spanning a generator's
    yields, consumed elsewhere) cannot be reset: the value it replaced is restored instead."""
    token, otel_token = tokens
    try:
        _current.reset(token)
    except ValueError:
        old = token.old_value
        _current.set(None if old is contextvars.Token.MISSING else old)
        # The OTel token is from that other context too: detaching it here would only make
        # OpenTelemetry log an error.
        return
    if otel_token is not None and _bridge is not None:
        try:
            _bridge.detach(otel_token)
        except Exception:  # noqa: BLE001
            pass


# Ids come from `random` (reseeded in forked children by the module itself): `randbytes`
# and `hex` cost about a tenth of `uuid.uuid4()` plus `secrets.token_hex` per span.
_randbytes = random.randbytes

# `span_attributes.exec_counter`: a process-wide, increasing ordering hint, as the official
# SDK sends it.
_exec_counter = itertools.count(1)

# `context.span_origin` of every span this SDK starts.
_SPAN_ORIGIN = {"name": "spanloom.sdk.python", "instrumentation": {"name": "spanloom-python-logger"}}


def _caller_context(frame: Any) -> dict:
    """`context` of a new span, as the official SDK sends it: the first frame from `frame`
    outwards that is outside this package (the code that started the span, or called the
    traced function)."""
    while frame is not None and frame.f_globals.get("__name__", "").startswith("spanloom"):
        frame = frame.f_back
    if frame is None:
        return {"span_origin": _SPAN_ORIGIN}
    # One dict per call site, shared by its spans (rows are never changed once logged).
    key = (frame.f_code, frame.f_lineno)
    context = _contexts.get(key)
    if context is None:
        if len(_contexts) >= 4096:
            _contexts.clear()
        context = _contexts[key] = _context_at(frame.f_code, frame.f_lineno)
    return context


def _context_at(code: Any, lineno: int) -> dict:
    """`context` naming line `lineno` of `code`."""
    return {"caller_functionname": code.co_name, "caller_filename": code.co_filename, "caller_lineno": lineno, "span_origin": _SPAN_ORIGIN}


_contexts: dict = {}


def _definition_context(fn: Callable) -> dict:
    """`context` naming where `fn` is defined."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return {"caller_functionname": getattr(fn, "__name__", ""), "span_origin": _SPAN_ORIGIN}
    return _context_at(code, code.co_firstlineno)


def error_text(error: BaseException) -> str:
    """The formatted traceback of `error`, the way spans record errors."""
    try:
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except Exception:  # noqa: BLE001
        return f"{type(error).__name__}: {error}"


class Span:
    """One unit of work. Use it as a context manager, or call `end()`."""

    def __init__(
        self,
        logger: _logger.Logger,
        name: Optional[str],
        type: Optional[str],
        parent: Optional[Span],
        root_span_id: Optional[str] = None,
        parent_span_id: Optional[str] = None,
        event: Optional[dict] = None,
    ):
        self._logger = logger
        given_id = event.get("id") if event else None
        # 32 hex digits of row id, 16 of span id, and for a new trace 32 of trace id.
        h = _randbytes(24 if parent is not None or root_span_id else 40).hex()
        self.id = given_id if isinstance(given_id, str) and given_id else h[:32]
        self.span_id = h[32:48]
        if parent is not None:
            self.root_span_id = parent.root_span_id
            self._parents = [parent.span_id]
        else:
            self.root_span_id = root_span_id or h[48:]
            self._parents = [parent_span_id] if parent_span_id else None
        self.name = name or "root"
        self._ended = False
        self._tokens: Optional[tuple] = None
        # The identity every later row of this span repeats (a merge into the first).
        self._ident = {"id": self.id, "span_id": self.span_id, "root_span_id": self.root_span_id, "span_parents": self._parents, "_is_merge": True}
        attributes = {"name": self.name, "type": type} if type else {"name": self.name}
        attributes["exec_counter"] = next(_exec_counter)
        # `created` is left to the core, which derives it from `metrics.start`.
        row = {
            "id": self.id,
            "span_id": self.span_id,
            "root_span_id": self.root_span_id,
            "span_parents": self._parents,
            "span_attributes": attributes,
            "metrics": {"start": time.time()},
        }
        if event:
            for k, v in event.items():
                if v is None or k == "id":
                    continue
                if k == "span_attributes":
                    attributes.update(v)
                else:
                    row[k] = v
        logger._emit(row)

    def _merge(self, event: dict) -> None:
        row = self._ident.copy()
        row.update(event)
        self._logger._emit(row)

    def log(self, **event: Any) -> None:
        """Merges fields into the span: input, output, expected, error, scores, metadata, metrics, tags."""
        event = {k: v for k, v in event.items() if v is not None}
        if event:
            self._merge(event)

    def set_attributes(self, name: Optional[str] = None, type: Optional[str] = None, span_attributes: Optional[dict] = None) -> None:
        attrs = dict(span_attributes or {})
        if name:
            attrs["name"] = name
        if type:
            attrs["type"] = type
        if attrs:
            self._merge({"span_attributes": attrs})

    def log_feedback(self, **event: Any) -> None:
        self.log(**event)

    def start_span(self, name: Optional[str] = None, type: Optional[str] = None, **event: Any) -> Span:
        return Span(self._logger, name, type, self, event=event)

    def end(self, end_time: Optional[float] = None) -> float:
        t = end_time or time.time()
        if not self._ended:
            self._ended = True
            self._merge({"metrics": {"end": t}})
        return t

    def _end_with(self, key: str, value: Any) -> None:
        """Logs one field and ends the span in one row (a traced call's output or error)."""
        if self._ended:
            if value is not None:
                self._merge({key: value})
            return
        self._ended = True
        row = self._ident.copy()
        if value is not None:
            row[key] = value
        row["metrics"] = {"end": time.time()}
        self._logger._emit(row)

    def export(self) -> str:
        """A slug other processes resume this span from (`start_span(parent=...)`, `update_span`).
        Never waits for the network: a project not registered yet is named by its name, as the
        official SDK does (an experiment is resolved first)."""
        try:
            experiment = getattr(self._logger, "_is_experiment", False)
            if not experiment and getattr(self._logger, "_project_id", None) is None:
                return _core.export_slug("", self.id, self.span_id, self.root_span_id, project_name=self._logger._project)
            return _core.export_slug(self._logger.id, self.id, self.span_id, self.root_span_id, experiment=experiment)
        except Exception as e:  # noqa: BLE001 - tracing never raises into user code
            print(f"spanloom: could not export the span: {e}", file=sys.stderr)
            return ""

    def permalink(self) -> str:
        """A link to the span in the UI ("" when the object cannot be resolved now)."""
        try:
            base = _logger._state.app_url or ""
            org = _logger._state.org_name or ""
            object_type = "experiment" if getattr(self._logger, "_is_experiment", False) else "project_logs"
            return f"{base}/app/{org}/object?object_type={object_type}&object_id={self._logger.id}&id={self.id}"
        except Exception:  # noqa: BLE001 - tracing never raises into user code
            return ""

    def flush(self) -> None:
        _logger.flush()

    def set_current(self) -> None:
        """Makes this span the current one (what `with span:` does on entry)."""
        if self._tokens is None:
            self._tokens = _enter(self)

    def unset_current(self) -> None:
        """Restores the span that was current before `set_current`."""
        if self._tokens is not None:
            tokens, self._tokens = self._tokens, None
            _leave(tokens)

    def close(self, end_time: Optional[float] = None) -> float:
        """Alias of `end`."""
        return self.end(end_time)

    def __enter__(self) -> Span:
        self.set_current()
        return self

    def _end_raised(self, exc: Optional[BaseException]) -> None:
        """Ends the span, logging `exc` as its error unless it is a generator closed early
        (which is not an error)."""
        if exc is not None and not isinstance(exc, GeneratorExit):
            self._end_with("error", error_text(exc))
        else:
            self.end()

    def __exit__(self, exc_type, exc, tb) -> None:
        self._end_raised(exc)
        self.unset_current()


class _NoopSpan:
    """What tracing does without a logger: nothing, cheaply."""

    id = ""
    span_id = ""
    root_span_id = ""

    def log(self, **event: Any) -> None:
        pass

    set_attributes = log_feedback = log

    def start_span(self, *args: Any, **kwargs: Any) -> _NoopSpan:
        return self

    def end(self, end_time: Optional[float] = None) -> float:
        return end_time or time.time()

    close = end

    def set_current(self) -> None:
        pass

    unset_current = set_current

    def export(self) -> str:
        return ""

    def permalink(self) -> str:
        return ""

    def flush(self) -> None:
        pass

    def __enter__(self) -> _NoopSpan:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


NOOP_SPAN = _NoopSpan()


def current_span():
    """The span the caller runs in, or a no-op span."""
    return _current.get() or NOOP_SPAN


def _start_traced(name: str, type: Optional[str], input: Any, context: dict):
    """`start_span(name=..., type=..., input=..., context=...)` for a traced call, without the
    keyword plumbing (the general path when the OpenTelemetry bridge is installed)."""
    if _bridge is not None:
        return start_span(name=name, type=type, input=input, context=context)
    try:
        event = {"context": context} if input is None else {"input": input, "context": context}
        current = _current.get()
        if current is not None:
            return Span(current._logger, name, type, current, event=event)
        return _root_span(_default_target(), name, type, event)
    except Exception as e:  # noqa: BLE001 - tracing never raises into user code
        print(f"spanloom: could not start a span: {e}", file=sys.stderr)
        return NOOP_SPAN


def _root_span(target: Any, name: Optional[str], type: Optional[str], event: Optional[dict]):
    """A new trace's root span in `target` (a no-op span without one). A root's default type,
    as in the official SDK: an experiment's roots are eval rows, a logger's are tasks."""
    if target is None:
        return NOOP_SPAN
    if type is None:
        type = "eval" if getattr(target, "_is_experiment", False) else "task"
    return Span(target, name, type, None, event=event)


def start_span(name: Optional[str] = None, type: Optional[str] = None, parent: Optional[str] = None, logger: Optional[_logger.Logger] = None, **event: Any):
    """Starts a span: a child of the current span, else of the `parent` slug, else a root of
    the current logger; a no-op span when there is no logger."""
    try:
        if "context" not in event:
            event["context"] = _caller_context(sys._getframe(1))
        current = _current.get()
        bridge = _bridge
        if bridge is not None and parent is None:
            # An OTel span started inside the current spanloom span (or with none) is the
            # innermost parent: the new span joins its trace, in the project it goes to.
            otel_parent = bridge.parent_for_new_span(current)
            if otel_parent is not None:
                trace_id, parent_span_id, otel_target = otel_parent
                target = logger or otel_target or (current._logger if current is not None else None) or _default_target()
                if target is None:
                    return NOOP_SPAN
                return Span(target, name, type, None, root_span_id=trace_id, parent_span_id=parent_span_id, event=event)
        if current is not None and parent is None and (logger is None or logger is current._logger):
            return Span(current._logger, name, type, current, event=event)
        target = logger or _default_target()
        if parent:
            _type, object_id, _row, span_id, root_span_id = _core.parse_slug(parent)
            by_name = None if object_id else _core.slug_project_name(parent)
            if target is None or (object_id and target._project_id != object_id) or (by_name and getattr(target, "_project", None) != by_name):
                target = _slug_target(_type, object_id, parent)
            return Span(target, name, type, None, root_span_id=root_span_id, parent_span_id=span_id, event=event)
        return _root_span(target, name, type, event)
    except Exception as e:  # noqa: BLE001 - tracing never raises into user code
        print(f"spanloom: could not start a span: {e}", file=sys.stderr)
        return NOOP_SPAN


# `_experiment.current_experiment`, imported on first use (`_experiment` imports this module)
# and kept, so the no-logger check of every traced call stays well under a microsecond.
_current_experiment: Optional[Callable[[], Any]] = None


def _default_target():
    """Where a new root span goes: the current experiment, else the current logger."""
    global _current_experiment
    if _current_experiment is None:
        from ._experiment import current_experiment

        _current_experiment = current_experiment
    return _current_experiment() or _logger.current_logger()


def _slug_target(object_type: int, object_id: Optional[str], slug: Optional[str] = None):
    """The experiment (object type 1) or project logs an export slug names (by id, or by
    project name for a slug exported before its project was registered)."""
    if object_type == 1 and object_id:
        from ._experiment import _experiment_by_id

        return _experiment_by_id(object_id)
    name = _core.slug_project_name(slug) if slug and not object_id else None
    return _logger.Logger(name, object_id, {})


def update_span(exported: str, **event: Any) -> None:
    """Merges fields into a span exported elsewhere (`span.export()`)."""
    try:
        _type, object_id, row_id, span_id, root_span_id = _core.parse_slug(exported)
        logger = _slug_target(_type, object_id, exported)
        row = {"id": row_id, "_is_merge": True, **{k: v for k, v in event.items() if v is not None}}
        if span_id:
            row.update(span_id=span_id, root_span_id=root_span_id)
        logger._emit(row)
    except Exception as e:  # noqa: BLE001
        print(f"spanloom: could not update the span: {e}", file=sys.stderr)


@functools.lru_cache(maxsize=4096)
def _signature(fn: Callable) -> inspect.Signature:
    """A function's signature, computed once (it costs several microseconds per call)."""
    return inspect.signature(fn)


def _bound_input(fn: Callable, args: tuple, kwargs: dict) -> Any:
    try:
        bound = _signature(fn).bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)
    except (TypeError, ValueError):
        return {"args": list(args), "kwargs": kwargs}


def _positional_names(fn: Callable) -> Optional[tuple]:
    """The parameter names of a function whose parameters are all plain positional ones
    (no `*args`, `**kwargs` or keyword-only): a call passing exactly those positionally binds
    by `zip`, several microseconds cheaper than `Signature.bind`. None otherwise."""
    try:
        params = tuple(_signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if all(p.kind in kinds for p in params):
        return tuple(p.name for p in params)
    return None


def _end_returned(span: Any, output: Any) -> None:
    """Ends a traced call's span with its return value as `output` (one row)."""
    if isinstance(span, Span):
        try:
            span._end_with("output", output)
        except Exception as e:  # noqa: BLE001 - tracing never raises into user code
            print(f"spanloom: could not end a span: {e}", file=sys.stderr)


def _end_failed(span: Any, error: BaseException) -> None:
    """Ends a traced call's span with the exception it raised (not a generator closed early)."""
    if isinstance(span, Span):
        try:
            span._end_raised(error)
        except Exception as e:  # noqa: BLE001
            print(f"spanloom: could not end a span: {e}", file=sys.stderr)


def _max_generator_items() -> int:
    """`SPANLOOM_MAX_GENERATOR_ITEMS` (or BRAINTRUST_): items of a traced generator's output
    kept, 1000 by default; 0 keeps none, -1 keeps all."""
    return _logger._env_int("MAX_GENERATOR_ITEMS", 1000)


class _Collector:
    """The yielded values of a traced generator, as the official SDK logs them: the list of
    items when the generator finishes (or the items so far when it raises); nothing when it
    was closed early or yielded more than the limit."""

    def __init__(self, enabled: bool):
        self.limit = _max_generator_items() if enabled else 0
        self.items: list = []
        self.truncated = False

    def add(self, value: Any) -> None:
        if self.limit == 0 or self.truncated:
            return
        if self.limit == -1 or len(self.items) < self.limit:
            self.items.append(value)
        else:
            self.truncated = True
            self.items = []
            _logger._warn(
                f"spanloom: generator output exceeded {self.limit} items and is not logged; raise SPANLOOM_MAX_GENERATOR_ITEMS (or set it to -1 for no limit)"
            )

    def log(self, span: Span, finished: bool) -> None:
        if self.limit != 0 and not self.truncated and (finished or self.items):
            span.log(output=self.items)


class _GeneratorSpan:
    """The span of one run of a traced generator, around the loop that drives it: gives the
    `_Collector` of its items and ends the span when the loop stops. An exception (but not the
    consumer closing the generator) logs the items so far and the error first."""

    def __init__(self, span: Span, log_items: bool):
        self.span = span
        self.collected = _Collector(log_items)

    def __enter__(self) -> _Collector:
        return self.collected

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        try:
            if exc is not None and not isinstance(exc, GeneratorExit):
                self.collected.log(self.span, finished=False)
                self.span.log(error=error_text(exc))
        finally:
            self.span.end()


class _InContext:
    """Awaits `awaitable` with each step run inside `ctx`, so an async generator's body sees
    its own context (its span) while the consumer keeps the consumer's."""

    def __init__(self, ctx: contextvars.Context, awaitable: Any):
        self._ctx = ctx
        self._it = awaitable.__await__()

    def __await__(self) -> _InContext:
        return self

    def __iter__(self) -> _InContext:
        return self

    def __next__(self) -> Any:
        return self._ctx.run(self._it.send, None)

    def send(self, value: Any) -> Any:
        return self._ctx.run(self._it.send, value)

    def throw(self, *exc: Any) -> Any:
        return self._ctx.run(self._it.throw, *exc)

    def close(self) -> None:
        self._ctx.run(self._it.close)


def _span_context(span: Span) -> tuple[contextvars.Context, tuple]:
    """A copy of the caller's context with `span` current in it: a traced generator's body
    runs there, so spans started in the body are children of the generator's span while the
    consumer's own spans (between items) are not, even with several generators interleaved."""
    ctx = contextvars.copy_context()
    return ctx, (ctx.run(_enter, span) if isinstance(span, Span) else ())


def traced(fn: Optional[Callable] = None, *, name: Optional[str] = None, type: Optional[str] = "function", notrace_io: bool = False):
    """Decorates a function so each call is a span, with the bound arguments as `input` and the
    return value as `output`; an exception is logged and re-raised unchanged.

    Sync and async functions, generators and async generators: a generator's span starts at
    its first item and stays open until the generator is exhausted, raises or is closed; its
    `output` is the list of yielded items (`SPANLOOM_MAX_GENERATOR_ITEMS`, default 1000). The
    body runs in the span's own context, so spans started while consuming the items nest
    under the consumer's span, not the generator's."""

    def decorate(f: Callable) -> Callable:
        span_name = name or f.__name__
        positional = _positional_names(f)
        # A traced call's `context` names the traced function itself (found once, here);
        # looking up each call's caller would cost about a microsecond per call.
        context = _definition_context(f)

        def bound_input(args: tuple, kwargs: dict) -> Any:
            if positional is not None and not kwargs and len(args) == len(positional):
                return dict(zip(positional, args))
            return _bound_input(f, args, kwargs)

        def begin(args: tuple, kwargs: dict) -> Any:
            return _start_traced(span_name, type, None if notrace_io else bound_input(args, kwargs), context)

        def untraced() -> bool:
            return _current.get() is None and _default_target() is None

        if inspect.isasyncgenfunction(f):

            @functools.wraps(f)
            async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                if untraced():
                    async for value in f(*args, **kwargs):
                        yield value
                    return
                span = begin(args, kwargs)
                ctx, _tokens = _span_context(span)
                agen = ctx.run(f, *args, **kwargs)
                step, arg = agen.asend, None
                with _GeneratorSpan(span, not notrace_io) as collected:
                    while True:
                        try:
                            value = await _InContext(ctx, step(arg))
                        except StopAsyncIteration:
                            collected.log(span, finished=True)
                            return
                        collected.add(value)
                        try:
                            arg = yield value
                            step = agen.asend
                        except GeneratorExit:
                            await _InContext(ctx, agen.aclose())
                            raise
                        except BaseException as e:  # noqa: BLE001 - thrown in by the consumer: pass it on
                            step, arg = agen.athrow, e

            return async_gen_wrapper

        if inspect.isgeneratorfunction(f):

            @functools.wraps(f)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                if untraced():
                    return (yield from f(*args, **kwargs))
                span = begin(args, kwargs)
                ctx, _tokens = _span_context(span)
                gen = ctx.run(f, *args, **kwargs)
                step, arg = gen.send, None
                with _GeneratorSpan(span, not notrace_io) as collected:
                    while True:
                        try:
                            value = ctx.run(step, arg)
                        except StopIteration as stop:
                            collected.log(span, finished=True)
                            return stop.value
                        collected.add(value)
                        try:
                            arg = yield value
                            step = gen.send
                        except GeneratorExit:
                            ctx.run(gen.close)
                            raise
                        except BaseException as e:  # noqa: BLE001 - thrown in by the consumer: pass it on
                            step, arg = gen.throw, e

            return gen_wrapper

        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if untraced():
                    return await f(*args, **kwargs)
                span = begin(args, kwargs)
                span.set_current()
                try:
                    result = await f(*args, **kwargs)
                except BaseException as e:
                    _end_failed(span, e)
                    raise
                finally:
                    span.unset_current()
                _end_returned(span, None if notrace_io else result)
                return result

            return async_wrapper

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if untraced():
                return f(*args, **kwargs)
            span = begin(args, kwargs)
            span.set_current()
            try:
                result = f(*args, **kwargs)
            except BaseException as e:
                _end_failed(span, e)
                raise
            finally:
                span.unset_current()
            _end_returned(span, None if notrace_io else result)
            return result

        return wrapper

    return decorate(fn) if fn is not None else decorate
