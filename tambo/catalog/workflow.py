"""The workflow a procedure follows: states, transitions, who may take them, what they need and do.

A procedure file may declare its own ``workflow``; otherwise the default TUPA workflow
(``data/default_workflow.yaml``) applies. An inconsistent workflow (unknown state or role,
unreachable state, decision state without a document...) is refused when the file is loaded.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ConfigDict, Field, model_validator

from .schema_base import NAME_RE, Strict, Text

OFFICIAL_ROLES = ("front_desk", "evaluator", "signer", "supervisor")
ACTORS = (*OFFICIAL_ROLES, "citizen", "system")
Role = Literal["front_desk", "evaluator", "signer", "supervisor", "citizen", "system"]
Requirement = Literal["reason", "report", "document"]
Effect = Literal["notify", "produce_document", "suspend_term", "resume_term", "stop_term", "close"]
Trigger = Literal["correction_expired", "positive_silence", "automatic_approval"]
DocumentKind = Literal["resolution", "silence_certificate"]


class State(Strict):
    id: str = Field(pattern=NAME_RE)
    label: Text
    final: bool = False
    decision: Literal["approved", "denied"] | None = None
    document: DocumentKind | None = None
    handled_by: Role | None = Field(None, description="whose queue a case in this state is in")


class Transition(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=NAME_RE)
    label: Text
    from_states: list[str] = Field(alias="from", min_length=1)
    to: str
    by: list[Role] = Field(min_length=1)
    requires: list[Requirement] = []
    effects: list[Effect] = []
    trigger: Trigger | None = None
    notice: Text | None = Field(None, description="what the citizen's notice says")


class Workflow(Strict):
    initial: str
    appeal_days: int = Field(15, ge=1, le=60, description="business days to appeal a decision")
    states: list[State] = Field(min_length=2)
    transitions: list[Transition] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Workflow:
        ids = [s.id for s in self.states]
        for index, state_id in enumerate(ids):
            if state_id in ids[:index]:
                raise ValueError(f"states.{index}.id: state '{state_id}' is repeated")
        known = set(ids)
        if self.initial not in known:
            raise ValueError(f"initial: unknown state '{self.initial}'")
        for index, state in enumerate(self.states):
            if state.decision and state.document is None:
                raise ValueError(
                    f"states.{index}.document: decision state '{state.id}' has no document"
                )
        for index, t in enumerate(self.transitions):
            for source in t.from_states:
                if source != "*" and source not in known:
                    raise ValueError(
                        f"transitions.{index}.from: unknown state '{source}' in '{t.id}'"
                    )
            if t.to not in known:
                raise ValueError(f"transitions.{index}.to: unknown state '{t.to}' in '{t.id}'")
            if t.trigger and t.by != ["system"]:
                raise ValueError(
                    f"transitions.{index}.by: triggered transition '{t.id}' is taken by system"
                )
            target = self.state(t.to)
            if "produce_document" in t.effects and target.document is None:
                raise ValueError(
                    f"transitions.{index}.effects: '{t.id}' produces a document but state "
                    f"'{t.to}' declares none"
                )
        reachable = self._reachable()
        for index, state in enumerate(self.states):
            if state.id not in reachable:
                raise ValueError(
                    f"states.{index}: state '{state.id}' cannot be reached from '{self.initial}'"
                )
        tids = [t.id for t in self.transitions]
        for index, tid in enumerate(tids):
            if tid in tids[:index]:
                raise ValueError(f"transitions.{index}.id: transition '{tid}' is repeated")
        return self

    def _reachable(self) -> set[str]:
        seen = {self.initial}
        queue = deque([self.initial])
        while queue:
            current = queue.popleft()
            for t in self.transitions:
                if (
                    current in t.from_states
                    or ("*" in t.from_states and not self.state(current).final)
                ) and t.to not in seen:
                    seen.add(t.to)
                    queue.append(t.to)
        return seen

    def state(self, state_id: str) -> State:
        return next(s for s in self.states if s.id == state_id)

    def transition(self, transition_id: str) -> Transition | None:
        return next((t for t in self.transitions if t.id == transition_id), None)

    def available(self, state_id: str, actor: str | None = None) -> list[Transition]:
        """Transitions that leave ``state_id`` (optionally only those ``actor`` may take)."""
        final = self.state(state_id).final
        return [
            t
            for t in self.transitions
            if (state_id in t.from_states or ("*" in t.from_states and not final))
            and (actor is None or actor in t.by)
        ]

    def triggered(self, trigger: str) -> list[Transition]:
        return [t for t in self.transitions if t.trigger == trigger]

    def open_states(self) -> list[str]:
        return [s.id for s in self.states if not s.final]

    def running_states(self) -> list[str]:
        """States in which the legal term runs and no decision has been taken."""
        return [s.id for s in self.states if not s.final and s.decision is None]


DEFAULT_WORKFLOW_PATH = Path(__file__).parent / "data" / "default_workflow.yaml"


@lru_cache(maxsize=1)
def default_workflow() -> Workflow:
    return Workflow.model_validate(
        yaml.safe_load(DEFAULT_WORKFLOW_PATH.read_text(encoding="utf-8"))
    )
