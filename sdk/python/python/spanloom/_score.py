"""Scores: what an `Eval` scorer returns (`Score`, or a number, or a dict), and `Scorer`, the base
class scorers such as those of ``autoevals`` follow."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Optional


@dataclasses.dataclass
class Score:
    """A score for one eval case: a number in [0, 1] (``None`` means skipped), with metadata."""

    name: str
    score: Optional[float] = None
    metadata: dict = dataclasses.field(default_factory=dict)
    error: Optional[Exception] = None

    def as_dict(self) -> dict:
        """``{"name", "score", "metadata"}``."""
        return {"name": self.name, "score": self.score, "metadata": self.metadata}

    def __post_init__(self) -> None:
        if self.score is not None and (self.score < 0 or self.score > 1):
            raise ValueError(f"score ({self.score}) must be between 0 and 1")

    @classmethod
    def from_dict(cls, d: dict) -> Score:
        """A score from a dict with the same field names (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def is_score(obj: Any) -> bool:
    """Whether ``obj`` looks like a score (``name``, ``score``, ``metadata``, ``as_dict``), so
    `autoevals` and other libraries' score classes work too."""
    return all(hasattr(obj, a) for a in ("name", "score", "metadata", "as_dict"))


class Scorer:
    """A scorer class: implement ``_run_eval_sync(output, expected=None, **kwargs)`` (and
    optionally ``_run_eval_async``); instances are callable."""

    async def eval_async(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        """Scores asynchronously (by default, the sync implementation)."""
        return await self._run_eval_async(output, expected, **kwargs)

    def eval(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        """Scores synchronously."""
        return self._run_eval_sync(output, expected, **kwargs)

    def __call__(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        return self.eval(output, expected, **kwargs)

    async def _run_eval_async(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        return self._run_eval_sync(output, expected, **kwargs)

    def _name(self) -> str:
        return self.__class__.__name__

    def _run_eval_sync(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        raise NotImplementedError


def is_scorer(obj: Any) -> bool:
    """Whether ``obj`` can be used as a scorer (a scorer class, an object with ``eval``/``eval_async``, or a callable)."""
    if inspect.isclass(obj):
        return any(hasattr(obj, a) for a in ("eval", "eval_async", "_run_eval_sync", "_run_eval_async"))
    return hasattr(obj, "eval") or hasattr(obj, "eval_async") or callable(obj)
