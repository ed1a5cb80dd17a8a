"""
`robot-touch sim`: try the MuJoCo simulation of an arm without ROS, or start the sim_arm node.

Without ``--ros`` it builds the model, drives it to a pose for a few simulated seconds,
prints the servo settings, the result and the speed, and can draw the final pose to a PNG.
"""

from __future__ import annotations

import argparse
import sys
import time

from robot_touch.errors import RobotTouchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--arm', default='so101', help='profile name or path to a profile YAML (default so101)'
    )
    parser.add_argument(
        '--pose',
        default='home',
        help=(
            'target: "home", "zero" or positions in joint order, arm joints then gripper '
            '(rad, m)'
        ),
    )
    parser.add_argument(
        '--seconds', type=float, default=2.0, help='simulated seconds to run (default 2)'
    )
    parser.add_argument(
        '--realtime',
        action='store_true',
        help='step in real time for --seconds of wall time and report the real-time factor',
    )
    parser.add_argument('--render', metavar='PNG', help='draw the final pose to this PNG file')
    parser.add_argument(
        '--size', default='640x480', help='render size WIDTHxHEIGHT in pixels (default 640x480)'
    )
    parser.add_argument(
        '--ros', action='store_true', help='run the sim_arm ROS node instead (Ctrl-C to stop)'
    )


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise RobotTouchError(f'--size must be WIDTHxHEIGHT, e.g. 640x480, got {text!r}') from None
    if not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise RobotTouchError(f'--size must be between 16x16 and 4096x4096, got {text!r}')
    return width, height


def run(args: argparse.Namespace) -> int:
    """Run the simulation summary (or the node with ``--ros``)."""
    width, height = _size(args.size)
    if args.ros:
        from robot_touch.cli.run_cmd import network_or_error
        from robot_touch.nodes.sim_arm import main as node_main

        network_or_error('local')  # the node's DDS stays on this host, as robot-touch run's

        params = ['-p', f'arm:={args.arm}', '-p', f'initial_positions:={args.pose}']
        if args.render:
            params += [
                '-p',
                f'render_png:={args.render}',
                '-p',
                f'render_width:={width}',
                '-p',
                f'render_height:={height}',
            ]
        return node_main(['sim_arm', '--ros-args', *params])
    if not (args.seconds > 0):
        raise RobotTouchError(f'--seconds must be positive, got {args.seconds}')

    from robot_touch.core.profile import load_profile
    from robot_touch.sim.gl import prepare_gl

    prepare_gl()  # once, before mujoco is first imported
    from robot_touch.sim.mujoco_arm import (
        MujocoArm,
        OffscreenRenderer,
        parse_positions,
        RealTimeRunner,
        RenderUnavailable,
    )

    profile = load_profile(args.arm)
    try:
        target = parse_positions(args.pose, profile)
        arm = MujocoArm(profile)
    except ValueError as exc:
        raise RobotTouchError(str(exc)) from None
    if target is not None:
        clamped = arm.command(target)
        if clamped:
            print(f'outside the limits, clamped: {", ".join(clamped)}')
    else:
        target = list(arm.targets())
    print(
        f'{profile.name}: {len(arm.names)} joints, time step {arm.timestep * 1000:g} ms, '
        'gravity on'
    )
    w = max(len(n) for n in arm.names) + 1
    print(
        f'  {"joint":{w}s} {"range":>20s} {"kp":>9s} {"kv":>8s} {"armature":>9s} {"force max":>9s}'
    )
    for spec, g in zip(arm.specs, arm.gains):
        unit = 'm' if spec.prismatic else 'rad'
        print(
            f'  {spec.name:{w}s} [{spec.lower:+.3f}, {spec.upper:+.3f}] {unit:3s} '
            f'{g.kp:9.3g} {g.kv:8.3g} {g.armature:9.2g} {g.force_limit:9.3g}'
        )

    if args.realtime:
        runner = RealTimeRunner(arm)
        runner.start()
        time.sleep(args.seconds)  # the stepping thread works meanwhile
        runner.stop()
        stats = runner.stats()
        print(
            f'real time: {stats.steps} steps, {stats.sim_time:.3f} s simulated in '
            f'{stats.wall_time:.3f} s (real-time factor {stats.real_time_factor:.3f}, '
            f'{stats.steps / stats.wall_time:.0f} steps/s)'
        )
    else:
        steps = max(1, int(round(args.seconds / arm.timestep)))
        start = time.perf_counter()
        arm.step(steps)
        wall = time.perf_counter() - start
        print(
            f'as fast as possible: {steps} steps in {wall:.3f} s = {steps / wall:,.0f} steps/s '
            f'({steps * arm.timestep / wall:,.0f}x real time)'
        )
    state = arm.state()
    print(f'  {"joint":{w}s} {"target":>8s} {"position":>9s} {"error":>8s} {"effort":>8s}')
    for i, name in enumerate(arm.names):
        print(
            f'  {name:{w}s} {target[i]:+8.4f} {state.positions[i]:+9.4f} '
            f'{state.positions[i] - arm.targets()[i]:+8.4f} {state.efforts[i]:+8.3f}'
        )

    if args.render:
        from robot_touch.core.profile import check_for_simulation

        invisible = check_for_simulation(arm.profile)
        if invisible:
            print(
                f'robot-touch sim: warning: links without <visual> will not show in '
                f'{args.render}: {", ".join(invisible)}',
                file=sys.stderr,
            )
        try:
            renderer = OffscreenRenderer(arm.model, width=width, height=height)
        except RenderUnavailable as exc:
            print(f'robot-touch sim: {exc}', file=sys.stderr)
            return 1
        try:
            path = renderer.save_png(arm.qpos(), args.render)
        except OSError as exc:
            raise RobotTouchError(f'cannot write {args.render}: {exc.strerror or exc}') from None
        finally:
            renderer.close()
        print(f'rendered to {path} ({width}x{height})')
    return 0
