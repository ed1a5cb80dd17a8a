"""
Event handlers the launch files share: required processes and start-after-success chains.

Imported only by ``launch/*.launch.py`` (it needs the ROS 2 ``launch`` package, which a pip
install does not have).

Upstream ``launch`` ends a run with code 0 after any Shutdown event, and a process that cannot
be started at all (executable missing, bad interpreter) is only logged: no ProcessExited
follows, so an ``OnProcessExit`` shutdown never fires. An exception raised in an event handler
is the one way to end the run with a non-zero code (``LaunchService.run`` logs it and returns 1),
so failures are raised as :class:`LaunchFailure`.
"""

from __future__ import annotations

from typing import Sequence

from launch import Action, LaunchContext
from launch.actions import EmitEvent, RegisterEventHandler
from launch.event_handlers import OnExecutionComplete, OnProcessExit, OnProcessStart
from launch.events import Shutdown
from launch.events.process import ProcessExited


class LaunchFailure(RuntimeError):
    """A process the graph cannot do without failed; the launch ends with code 1."""


def required(action: Action, name: str) -> list[RegisterEventHandler]:
    """
    Handlers that end the launch when ``action``'s process ends; put them before ``action``.

    Exit code 0 ends the launch cleanly (the UI window was closed); any other code, or a
    process that never started, ends it with an error naming ``name``.
    """
    started = False

    def on_start(_event: object, _context: LaunchContext) -> None:
        nonlocal started
        started = True

    def on_exit(event: ProcessExited, context: LaunchContext) -> list | None:
        if context.is_shutdown:
            return None
        if event.returncode != 0:
            raise LaunchFailure(f'required process {name} exited with code {event.returncode}')
        return [EmitEvent(event=Shutdown(reason=f'{name} exited'))]

    def on_complete(_event: object, context: LaunchContext) -> None:
        if not started and not context.is_shutdown:
            raise LaunchFailure(f'required process {name} could not be started (error above)')

    return [
        RegisterEventHandler(OnProcessStart(target_action=action, on_start=on_start)),
        RegisterEventHandler(OnProcessExit(target_action=action, on_exit=on_exit)),
        RegisterEventHandler(OnExecutionComplete(target_action=action, on_completion=on_complete)),
    ]


def after_success(
    predecessors: Sequence[Action], then: Sequence[Action], what: str
) -> list[RegisterEventHandler]:
    """
    Handlers that start ``then`` once every process of ``predecessors`` has exited with 0.

    A predecessor that fails ends the launch with an error naming ``what``: nothing after it
    could work (a controller cannot be spawned into a model that is not there).
    """
    remaining = len(predecessors)

    def on_exit(event: ProcessExited, context: LaunchContext) -> list | None:
        nonlocal remaining
        if context.is_shutdown:
            return None
        if event.returncode != 0:
            raise LaunchFailure(
                f'{what}: {event.process_name} exited with code {event.returncode}'
            )
        remaining -= 1
        return list(then) if remaining == 0 else None

    return [
        RegisterEventHandler(OnProcessExit(target_action=action, on_exit=on_exit))
        for action in predecessors
    ]
