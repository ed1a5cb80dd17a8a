"""
What the ``teleop`` node decides at start-up, as plain functions of its settings and graph.

The command output it was asked for, the joints its commands carry, whether ``max_joint_step``
would trip the output safety net at full speed, and whether another node already commands the
arm (one arm, one commander: :mod:`robot_touch.ownership`). The node reads the parameters and
the ROS graph and raises or logs what these return.
"""

from __future__ import annotations

from typing import Sequence

from robot_touch.core.profile import ArmProfile
from robot_touch.core.teleop_config import TeleopConfig
from robot_touch.ownership import COMMAND_TOPICS, GraphSnapshot

#: the command outputs: position (forward_position_controller/commands) or trajectory
#: (arm_controller/joint_trajectory)
OUTPUTS = ('position', 'trajectory')
#: seconds teleop watches the graph at start for another node commanding its arm (DDS
#: discovery on this host takes a few hundred ms)
COMMANDER_DISCOVERY_WAIT = 1.5
ONE_COMMANDER = (
    'one arm has one commander; stop it first, or use another namespace or ROS_DOMAIN_ID'
)


def check_output(output: str) -> str:
    """
    Return ``output`` if it is one of :data:`OUTPUTS`.

    :raises ValueError: naming the choices and the value given.
    """
    if output not in OUTPUTS:
        raise ValueError(
            f'parameter output must be one of {", ".join(OUTPUTS)}, got {output!r}'
        )
    return output


def command_joint_names(profile: ArmProfile, include_gripper: bool) -> list[str]:
    """Return the joints of a command in its order: the arm's, then the gripper if included."""
    return profile.joint_names + (
        [profile.gripper.name] if include_gripper and profile.gripper else []
    )


def max_joint_step_warning(profile: ArmProfile, config: TeleopConfig) -> str | None:
    """
    Return why ``max_joint_step`` is too small for the arm's fastest joint, or None.

    Below one cycle's move at full speed, fast moves trip the output safety net.
    """
    slowest = max(j.velocity for j in profile.joints) * config.velocity_scale / config.rate
    if config.max_joint_step < slowest:
        return (
            f'max_joint_step {config.max_joint_step} rad is below one cycle at full speed '
            f'({slowest:.3f} rad): '
            'fast moves will trip the output safety net'
        )
    return None


def other_commanders(snapshot: GraphSnapshot, namespace: str) -> list[str]:
    """
    Return who else commands the arm in ``snapshot`` (full names, sorted; [] when nobody).

    A publisher on the command topics, or a node called teleop in ``namespace`` (its publisher
    may not be discovered yet). The caller leaves itself out of the snapshot.
    """
    return sorted(
        {n for t in COMMAND_TOPICS for n in snapshot.publishers.get(t, [])}
        | {f'{namespace.rstrip("/")}/teleop' for n in snapshot.nodes if n == 'teleop'}
    )


def second_teleop_refusal(namespace: str, domain: str) -> str:
    """Return why teleop does not start when another teleop of this host holds the arm."""
    return (
        f'another teleop already commands this arm (ROS_DOMAIN_ID {domain}, '
        f'namespace {namespace}): {ONE_COMMANDER}'
    )


def commanders_refusal(others: Sequence[str], namespace: str) -> str:
    """Return why teleop does not start when ``others`` already command the arm."""
    return (
        f'{", ".join(others)} already commands this arm '
        f'({namespace.rstrip("/")}/{COMMAND_TOPICS[0]}): {ONE_COMMANDER}'
    )
