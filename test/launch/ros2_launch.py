"""
``ros2 launch <package> <file> [name:=value ...]`` for the launch tier.

The ``ros2`` command line is not on PyPI; its ``launch`` verb is a thin layer over the upstream
``launch`` package, which is (``../shared/ros2_launch``). This script does what that verb does
(ros2/launch_ros ``ros2launch/api/api.py``): find the file in the package's share folder
through the ament index, parse ``name:=value`` arguments, include the file in a
``LaunchService`` with those arguments and exit with the service's return code.
"""

from __future__ import annotations

import os
import sys

from ament_index_python.packages import get_package_share_directory
import launch
from launch.launch_description_sources import AnyLaunchDescriptionSource


def find_launch_file(package: str, file_name: str) -> str:
    """Return the one file called ``file_name`` under the package's share folder."""
    share = get_package_share_directory(package)
    found = [
        os.path.join(root, name)
        for root, _dirs, files in os.walk(share)
        for name in files
        if name == file_name
    ]
    if len(found) != 1:
        raise SystemExit(f'{file_name}: found {len(found)} times in {share}')
    return found[0]


def parse_arguments(arguments: list[str]) -> list[tuple[str, str]]:
    """``name:=value`` pairs; the last of a repeated name wins, as in ``ros2 launch``."""
    parsed: dict[str, str] = {}
    for argument in arguments:
        name, sep, value = argument.partition(':=')
        if not sep or not name:
            raise SystemExit(f'malformed launch argument {argument!r}, expected <name>:=<value>')
        parsed[name] = value
    return list(parsed.items())


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit('usage: ros2_launch.py <package> <launch file> [name:=value ...]')
    path = find_launch_file(argv[0], argv[1])
    service = launch.LaunchService(argv=argv[2:])
    service.include_launch_description(
        launch.LaunchDescription(
            [
                launch.actions.IncludeLaunchDescription(
                    AnyLaunchDescriptionSource(path), launch_arguments=parse_arguments(argv[2:])
                )
            ]
        )
    )
    return service.run()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
