"""The seed notebook's scenarios, as importable workflows and one function that runs them.

``flowpoint demo`` runs them on the default SQLite file so that a new user has real runs
and checkpoints to explore with the other commands. The workflows live here (not in a
notebook cell) so that ``--workflow flowpoint.demo:NumberWorkflow`` finds them when the
user forks or resumes a demo run.

>>> report = await run_demo(SQLiteStore(".flowpoint/flowpoint.db"))   # doctest: +SKIP
>>> report.fork_result["final_result"]                               # doctest: +SKIP
30
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .checkpointer import Checkpointer
from .context import Context
from .events import Event, StartEvent, StopEvent
from .step import step
from .stores.base import Store
from .workflow import Workflow

CHAT_MESSAGE = "Hello! Can you help me with Python?"
FIRST_NUMBER = 5
EDITED_NUMBER = 20


class UserMessageEvent(Event):
    user_message: str
    session_id: str
    message_count: int = 0


class SimpleChatWorkflow(Workflow):
    """The seed's chat: the conversation history lives in the run's state."""

    def __init__(self, timeout: float | None = 60, verbose: bool = False) -> None:
        super().__init__(timeout=timeout, verbose=verbose)

    @step
    async def process_user_message(self, ev: StartEvent, ctx: Context) -> UserMessageEvent:
        """Read the user's message and count it against the history so far."""
        history = await ctx.store.get("conversation_history", [])
        data = ev.get("input_data") or {}
        return UserMessageEvent(
            user_message=data.get("user_message", "Hello!"),
            session_id=data.get("session_id", "demo_session"),
            message_count=len(history) + 1,
        )

    @step
    async def generate_bot_response(self, ev: UserMessageEvent, ctx: Context) -> StopEvent:
        """Answer, and append the exchange to the history in state."""
        history = await ctx.store.get("conversation_history", [])
        if ev.message_count == 1:
            answer = "Hello! This is our first conversation! How can I help you today?"
        elif ev.message_count == 2:
            answer = "Nice to see you again! What would you like to know about?"
        else:
            answer = (
                f"Thanks for message #{ev.message_count}! "
                "I'm here to help with any questions you have."
            )
        message = {
            "user_message": ev.user_message,
            "bot_response": answer,
            "timestamp": datetime.now().isoformat(),
            "message_number": ev.message_count,
        }
        history = [*history, message]
        await ctx.store.set("conversation_history", history)
        return StopEvent(
            result={
                "session_id": ev.session_id,
                "user_message": ev.user_message,
                "bot_response": answer,
                "conversation_history": history,
                "message_count": ev.message_count,
                "completed_at": datetime.now().isoformat(),
            }
        )


class NumberEvent(Event):
    number: int
    step_name: str


class NumberWorkflow(Workflow):
    """The seed's time-travel example: fork after ``first_step`` with another number."""

    def __init__(self, timeout: float | None = 60, verbose: bool = False) -> None:
        super().__init__(timeout=timeout, verbose=verbose)

    @step
    async def first_step(self, ev: StartEvent, ctx: Context) -> NumberEvent:
        """Take the initial number from the input."""
        data = ev.get("input_data") or {}
        return NumberEvent(number=data.get("number", FIRST_NUMBER), step_name="first_step")

    @step
    async def second_step(self, ev: NumberEvent, ctx: Context) -> StopEvent:
        """Add 10."""
        added = 10
        return StopEvent(
            result={
                "original_number": ev.number,
                "added_number": added,
                "final_result": ev.number + added,
                "step_name": "second_step",
            }
        )


@dataclass(frozen=True)
class DemoReport:
    """The ids and results of the runs the demo wrote."""

    chat_run_id: str
    number_run_id: str
    fork_run_id: str
    fork_seq: int
    chat_result: Any
    number_result: Any
    fork_result: Any

    @property
    def run_ids(self) -> list[str]:
        return [self.chat_run_id, self.number_run_id, self.fork_run_id]


async def run_demo(store: Store) -> DemoReport:
    """Run the seed's scenarios on ``store``: a chat run, a number run, and a fork of the
    number run after its first step with the number edited from 5 to 20 (result 30)."""
    chat = Checkpointer(SimpleChatWorkflow(), store=store)
    chat_handler = chat.run(
        input_data={"user_message": CHAT_MESSAGE, "session_id": "demo_session_123"}
    )
    chat_result = await chat_handler

    numbers = Checkpointer(NumberWorkflow(), store=store)
    number_handler = numbers.run(input_data={"number": FIRST_NUMBER})
    number_result = await number_handler

    first = numbers.load_checkpoints(number_handler.run_id)[0]
    fork_handler = numbers.run_from(first, event={"number": EDITED_NUMBER})
    fork_result = await fork_handler
    await store.flush()
    return DemoReport(
        chat_run_id=chat_handler.run_id,
        number_run_id=number_handler.run_id,
        fork_run_id=fork_handler.run_id,
        fork_seq=first.seq,
        chat_result=chat_result,
        number_result=number_result,
        fork_result=fork_result,
    )


__all__ = [
    "DemoReport",
    "NumberEvent",
    "NumberWorkflow",
    "SimpleChatWorkflow",
    "UserMessageEvent",
    "run_demo",
]
