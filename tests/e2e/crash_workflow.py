"""A five-step workflow for the crash test, run as a script in a subprocess.

``python crash_workflow.py run DB LOG``  starts a run; step 3 then blocks (as if it were a
long call) after printing ``STEP3`` so the test knows when to kill the process.
``python crash_workflow.py resume DB LOG``  resumes whatever a crash left unfinished and
prints the result as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from flowpoint import Checkpointer, Context, Event, StartEvent, StopEvent, Workflow, step
from flowpoint.stores import SQLiteStore


class Step1Done(Event):
    done: list[int]


class Step2Done(Event):
    done: list[int]


class Step3Done(Event):
    done: list[int]


class Step4Done(Event):
    done: list[int]


def _log(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line + "\n")


class FiveSteps(Workflow):
    """Five steps in a line; each logs that it ran and adds to a list in the state."""

    log_path = ""
    block_in_step3 = False

    async def _advance(self, n: int, done: list[int], ctx: Context) -> list[int]:
        _log(self.log_path, f"step{n}")
        totals = await ctx.store.get("totals", default=[])
        await ctx.store.set("totals", [*totals, n * 10])
        return [*done, n]

    @step
    async def step1(self, ev: StartEvent, ctx: Context) -> Step1Done:
        return Step1Done(done=await self._advance(1, [], ctx))

    @step
    async def step2(self, ev: Step1Done, ctx: Context) -> Step2Done:
        return Step2Done(done=await self._advance(2, ev.done, ctx))

    @step
    async def step3(self, ev: Step2Done, ctx: Context) -> Step3Done:
        if self.block_in_step3:
            _log(self.log_path, "step3")
            print("STEP3", flush=True)
            await asyncio.sleep(30)
        return Step3Done(done=await self._advance(3, ev.done, ctx))

    @step
    async def step4(self, ev: Step3Done, ctx: Context) -> Step4Done:
        return Step4Done(done=await self._advance(4, ev.done, ctx))

    @step
    async def step5(self, ev: Step4Done, ctx: Context) -> StopEvent:
        done = await self._advance(5, ev.done, ctx)
        return StopEvent(result={"done": done, "totals": await ctx.store.get("totals")})


async def _main(mode: str, db: str, log: str) -> None:
    workflow = FiveSteps(timeout=120)
    FiveSteps.log_path = log
    checkpointer = Checkpointer(workflow, store=SQLiteStore(db))
    if mode == "run":
        FiveSteps.block_in_step3 = True
        handler = checkpointer.run()
        print(f"RUN {handler.run_id}", flush=True)
        await handler
    else:
        handlers = checkpointer.resume_interrupted()
        results = [await h for h in handlers]
        print(json.dumps({"run_ids": [h.run_id for h in handlers], "results": results}))


if __name__ == "__main__":
    asyncio.run(_main(*sys.argv[1:4]))
