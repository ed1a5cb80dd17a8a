"""
`robot-touch free-drive on|off [--joints J1,J2|all] [--namespace NS]`.

Free drive (teach by hand) of a running arm without the ROS CLI.

``on`` releases the joints of teleop's ``free_drive_joints`` (``--joints`` sets it first;
``all``: every joint teleop commands): the arm brakes to rest, then their torque goes off and
a person moves them by hand (the arm sags under gravity: support it). ``off`` switches torque
back on, holding exactly where the arm is. Exit codes as the other operator commands: 0 done,
1 refused by teleop (its reason is printed), 2 nothing answered.
"""

from __future__ import annotations

import argparse

from robot_touch.cli import operator_cmd
from robot_touch.errors import RobotTouchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('state', choices=('on', 'off'), help='enter or leave free drive')
    parser.add_argument(
        '--joints',
        default=None,
        help="with on: the joints to release, comma-separated (e.g. gripper), or 'all'; "
        "default: teleop's free_drive_joints (the whole arm unless configured)",
    )
    operator_cmd.add_arguments(parser)


def joint_list(text: str) -> list[str]:
    """``--joints`` as teleop's ``free_drive_joints`` ([] = every joint)."""
    names = [n.strip() for n in text.split(',') if n.strip()]
    if not names:
        raise RobotTouchError("--joints needs joint names, comma-separated, or 'all'")
    return [] if names == ['all'] else names


def requests(state: str, joints: str | None) -> list[tuple[object, str, object]]:
    """Return the service calls ``free-drive state`` makes: (type, service, request)."""
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters
    from std_srvs.srv import SetBool

    calls: list[tuple[object, str, object]] = []
    if state == 'on' and joints is not None:
        value = ParameterValue(
            type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=joint_list(joints)
        )
        parameter = Parameter(name='free_drive_joints', value=value)
        calls.append(
            (SetParameters, 'teleop/set_parameters', SetParameters.Request(parameters=[parameter]))
        )
    calls.append((SetBool, 'teleop/free_drive', SetBool.Request(data=state == 'on')))
    return calls


def run(args: argparse.Namespace) -> int:
    if args.joints is not None and args.state == 'off':
        raise RobotTouchError('--joints goes with on (off holds every released joint)')
    if args.joints is not None:
        joint_list(args.joints)  # a bad list is refused before anything is called
    if not args.timeout > 0:
        raise RobotTouchError(
            f'--timeout must be a positive number of seconds, got {args.timeout:g}'
        )
    results = operator_cmd.call_services(
        requests(args.state, args.joints), args.namespace, args.timeout
    )
    refusal = operator_cmd.refused(results[-1])
    if refusal:
        print(f'refused: {refusal}')
        return 1
    print(results[-1].message)
    return 0
