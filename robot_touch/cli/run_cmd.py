"""
`robot-touch run`: start the whole graph (virtual arm or real arm or MuJoCo, teleop, UI).

Without a display the UI runs on Xvfb. `--demo` replays a built-in gesture script through
the real stack, saves a screenshot and a plot of commanded vs measured joints under out/,
and exits 0 when the demo is done.

Nothing moves a serial-backed arm unless a person asked for it: the demo plays by itself only
on the virtual and sim backends; on ``--backend serial`` it needs ``--demo`` and a typed "yes"
(or ``--yes-move-the-arm`` in a script), and a headless serial run without ``--demo`` starts
the graph without the UI, so that nothing moves until someone commands it.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
import importlib.util
import math
import os
from pathlib import Path
import signal
import sys
import time
from typing import Callable, TYPE_CHECKING

from robot_touch.errors import RobotTouchError
from robot_touch.ui.i18n import LANGUAGES

if TYPE_CHECKING:
    from robot_touch.core.profile import ArmProfile
    from robot_touch.graph import GraphConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--arm', default='so101', help='arm profile name or path to its YAML (default so101)'
    )
    parser.add_argument(
        '--backend',
        default='virtual',
        choices=('virtual', 'serial', 'sim'),
        help='what moves (default: virtual arm on a pty)',
    )
    parser.add_argument(
        '--port', default='', help='serial port URL for --backend serial (e.g. /dev/ttyUSB0)'
    )
    parser.add_argument('--no-ui', action='store_true', help='do not start the touch UI')
    parser.add_argument(
        '--demo',
        action='store_true',
        help='replay a demo gesture script, save results under --out, exit',
    )
    parser.add_argument(
        '--yes-move-the-arm',
        action='store_true',
        help='with --backend serial --demo: confirm that the demo may move the real arm '
        '(for scripts; '
        'on a terminal you are asked instead)',
    )
    parser.add_argument('--namespace', default='', help='ROS namespace for this arm')
    parser.add_argument('--rate', type=float, default=100.0, help='control rate, Hz (default 100)')
    parser.add_argument(
        '--out',
        default='out',
        help="folder for the demo's screenshot, plot and log (default out/)",
    )
    parser.add_argument(
        '--duration',
        type=float,
        default=0.0,
        help='stop after this many seconds (0 = run until Ctrl-C)',
    )
    remote = parser.add_argument_group('remote access (tablets; see `robot-touch pair`)')
    remote.add_argument(
        '--remote', action='store_true', help='start the secure gateway (rosbridge v2, wss)'
    )
    remote.add_argument(
        '--remote-port', type=int, default=9090, metavar='PORT', help='gateway port (9090)'
    )
    remote.add_argument(
        '--remote-bind', default='::', metavar='ADDR', help='gateway address (:: = all, v6 and v4)'
    )
    remote.add_argument(
        '--remote-insecure', action='store_true', help='plain ws:// without TLS (warns)'
    )
    add_network_argument(parser)
    add_ui_arguments(parser)


def add_ui_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the touch UI's settings a touch panel needs (parameters of config/touch_ui.yaml)."""
    ui = parser.add_argument_group('touch UI')
    ui.add_argument(
        '--fullscreen', action='store_true', help='fill the screen (a dedicated touch panel)'
    )
    ui.add_argument(
        '--language',
        choices=tuple(LANGUAGES),
        default='',
        help='UI language at start (default en)',
    )
    ui.add_argument(
        '--enable-mode',
        choices=('latched', 'hold'),
        default='',
        help='Enable button: latched toggle, or hold to move (dead-man) (default latched)',
    )
    ui.add_argument(
        '--window-size',
        default='',
        metavar='WxH',
        help='window size in pixels, e.g. 800x1280 for a portrait panel',
    )
    ui.add_argument(
        '--dpi',
        type=float,
        default=0.0,
        metavar='DPI',
        help="the panel's pixels per inch, where it reports none or a wrong one (e.g. 133 for "
        'the Raspberry Pi 7 in display): touch controls are sized in mm from it '
        '(default: as the screen reports)',
    )


@dataclass
class RunPlan:
    """What this run starts, decided before anything starts."""

    ui: bool
    demo: bool
    notes: list[str] = field(default_factory=list)
    #: the demo moves a real arm: ask the person at the terminal first
    confirm: bool = False


def plan_run(args: argparse.Namespace, display: bool, terminal: bool) -> RunPlan:
    """
    Decide whether the UI and the demo run. Pure: the display and terminal are passed in.

    :raises RobotTouchError: the demo would move a real arm without a confirmation that can be
        given.
    """
    ui, demo = not args.no_ui, args.demo
    real_arm = args.backend == 'serial'
    if demo and real_arm:
        if args.yes_move_the_arm:
            return RunPlan(
                ui=True, demo=True, notes=['--yes-move-the-arm: the demo moves the real arm']
            )
        if not terminal:
            raise RobotTouchError(
                '--demo on --backend serial moves the real arm: add --yes-move-the-arm to confirm '
                '(no terminal to ask on)'
            )
        return RunPlan(ui=True, demo=True, confirm=True)
    if demo or not ui or display or args.duration > 0:
        return RunPlan(ui=ui or demo, demo=demo)
    if real_arm:
        # Headless on a real arm: never play the demo by itself. Start the arm without a UI;
        # nothing moves until a person commands it.
        return RunPlan(
            ui=False,
            demo=False,
            notes=[
                'no display: the arm runs without the touch UI '
                'and holds still until you command it',
                'operator commands: robot-touch status | estop | release | enable | disable | home'
                + (f' --namespace {args.namespace}' if args.namespace else ''),
                "a touch UI on this machine's screen: DISPLAY=:0 robot-touch ui --arm "
                + args.arm
                + (f' --namespace {args.namespace}' if args.namespace else ''),
                'the demo on this arm, deliberately: '
                'robot-touch run --backend serial --port PORT --demo',
            ],
        )
    # Headless virtual arm or simulation (CI, a server, `make run` over ssh): show the stack
    # working instead of waiting for touches that cannot come.
    return RunPlan(
        ui=True, demo=True, notes=['no display: running the built-in demo (--demo) on Xvfb']
    )


def confirm_demo_on_real_arm(port: str, ask: Callable[[str], str] = input) -> bool:
    """Ask the person at the terminal to type "yes" before the demo moves the real arm."""
    print(
        f'The demo moves the real arm on {port}: about 10 cm in several directions, the gripper, '
        'then Home. Clear the space around it.',
        flush=True,
    )
    try:
        answer = ask('Type "yes" to start the demo: ')
    except EOFError:
        return False
    return answer.strip().lower() == 'yes'


def add_network_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--network',
        choices=('local', 'lan'),
        default='local',
        help="who can reach the arm's ROS graph: this host only (default: DDS on loopback "
        'and shared memory), or the network (no authentication: see the warning it prints)',
    )


def network_or_error(network: str) -> str:
    """
    Apply ``network``'s DDS environment to this process (and so to its children).

    Its warning, or "". A user error in one line, in this tool's syntax.
    """
    from robot_touch.graph import ConfigError, use_network

    try:
        return use_network(network)
    except ConfigError as exc:
        raise RobotTouchError(exc.for_cli()) from None


def ui_settings(args: argparse.Namespace) -> dict[str, str | bool | float]:
    """Return the GraphConfig fields of :func:`add_ui_arguments`' flags."""
    names = ('language', 'enable_mode', 'window_size', 'fullscreen', 'dpi')
    return {name: getattr(args, name) for name in names}


def build_config(args: argparse.Namespace, profile: ArmProfile) -> GraphConfig:
    """
    Return the graph configuration from the flags, checked; errors name the flag (one line).

    :raises RobotTouchError: e.g. "--rate must be between 10 and 1000 Hz, got 0 (e.g. --rate 100)".
    """
    from robot_touch.graph import ConfigError, GraphConfig

    if not (math.isfinite(args.duration) and args.duration >= 0):
        raise RobotTouchError(
            '--duration must be 0 (run until Ctrl-C) or a number of seconds, '
            f'got {args.duration:g}'
        )
    try:
        return GraphConfig(
            arm=(
                str(profile.path)
                if '/' in args.arm or args.arm.endswith(('.yaml', '.yml'))
                else profile.name
            ),
            backend=args.backend,
            port=args.port,
            ui=not args.no_ui,
            namespace=args.namespace,
            demo=args.demo,
            demo_out=str(Path(args.out).resolve()),
            control_rate=args.rate,
            network=args.network,
            **ui_settings(args),
            remote=args.remote or args.remote_insecure,
            remote_port=args.remote_port,
            remote_bind=args.remote_bind,
            remote_insecure=args.remote_insecure,
        )
    except ConfigError as exc:
        raise RobotTouchError(exc.for_cli()) from None


def run(args: argparse.Namespace) -> int:
    from robot_touch.core.profile import load_profile
    from robot_touch.display import display_answers, has_display, Xvfb
    from robot_touch.graph import describe
    from robot_touch.runner import Supervisor

    # Everything the user typed is checked before anything starts (and said in this tool's
    # syntax: --rate, not rate:=).
    profile = load_profile(args.arm)
    config = build_config(args, profile)
    # Who can reach the graph: set here, so the status line's listener and every child share it.
    warning = network_or_error(config.network)
    if warning:
        print(f'[run] WARNING: {warning}', flush=True)
    display = has_display()
    if display:
        display, detail = display_answers()
        if not display:
            print(f'[run] {detail}: running as without a display', flush=True)
            for var in ('DISPLAY', 'WAYLAND_DISPLAY'):
                os.environ.pop(var, None)
    plan = plan_run(args, display=display, terminal=sys.stdin.isatty())
    if plan.confirm and not confirm_demo_on_real_arm(args.port):
        print('[run] not confirmed: nothing started', flush=True)
        return 1
    args.demo = plan.demo
    args.no_ui = not plan.ui
    config = dataclasses.replace(config, ui=plan.ui, demo=plan.demo)
    specs = describe(config)
    missing = [s.name for s in specs if importlib.util.find_spec(s.module) is None]
    if missing:
        raise RobotTouchError(f'not installed in this build: {", ".join(missing)}')

    # The status line's ROS listener starts first: it also sees whether this arm's graph (same
    # ROS domain and namespace) is already up, before we start anything.
    monitor = _start_monitor(config.namespace)
    if monitor is not None:
        running = monitor.graph_already_running()
        if running:
            monitor.stop()
            domain = os.environ.get('ROS_DOMAIN_ID', '0')
            raise RobotTouchError(
                f"this arm's graph is already running (ROS_DOMAIN_ID {domain}, namespace "
                f'/{config.namespace.strip("/")}: {", ".join(running)}): '
                'one arm has one owner; stop it first, '
                'or use --namespace / another ROS_DOMAIN_ID for another arm'
            )
    for note in plan.notes:
        print(f'[run] {note}', flush=True)

    out_dir = Path(args.out).resolve()
    if args.demo:
        out_dir.mkdir(parents=True, exist_ok=True)
    extra_env: dict[str, dict[str, str]] = {'touch_ui': {}}

    xvfb = None
    if config.ui and not has_display():
        xvfb = Xvfb()
        display = xvfb.start()
        print(f'[run] no display: the UI runs on Xvfb {display}', flush=True)
        extra_env['touch_ui']['DISPLAY'] = display
    supervisor = Supervisor(specs, namespace=config.namespace, extra_env=extra_env)
    started = time.monotonic()
    names = ', '.join(s.name for s in specs)
    print(f'[run] {profile.name} on backend {config.backend}: starting {names}', flush=True)

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # a stop signal while starting: unwind and stop what started

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    try:
        supervisor.start()
        demo_done = lambda: any(  # noqa: E731
            p.spec.name == 'touch_ui' and p.popen.poll() == 0 for p in supervisor.running
        )
        until = None
        if args.demo:
            until = demo_done
        elif args.duration > 0:
            until = lambda: time.monotonic() - started > args.duration  # noqa: E731

        def status() -> str:
            down = [
                f'{p.spec.name} exited {p.popen.returncode}'
                for p in supervisor.running
                if p.popen.poll() is not None
            ]
            processes = ', '.join(down) if down else f'{len(supervisor.running)} processes up'
            ros = f' · {monitor.summary()}' if monitor is not None else ''
            return f'up {time.monotonic() - started:.0f} s: {processes}{ros}'

        code = supervisor.supervise(until=until, status=status)
    finally:
        supervisor.stop()
        if monitor is not None:
            monitor.stop()
        if xvfb:
            xvfb.stop()
    if supervisor.stopped_by is not None and (args.demo or args.duration > 0):
        # Stopped before its end: not a success (130 after Ctrl-C, 128 + the signal).
        what = 'the demo' if args.demo else f'the {args.duration:g} s run'
        print(f'[run] {what} was interrupted ({supervisor.stopped_by.name})', flush=True)
        return 128 + int(supervisor.stopped_by)
    if args.demo:
        if code == 0:
            print(f'[run] demo finished: results in {os.path.abspath(out_dir)}', flush=True)
        else:
            print(
                f'[run] demo FAILED (exit code {code}): see the demo: lines above; '
                f'results in {out_dir}',
                flush=True,
            )
    return code


def _start_monitor(namespace: str):  # RunMonitor or None
    """Start the ROS side of the status line; None (process states only) if rclpy cannot start."""
    try:
        from robot_touch.run_monitor import RunMonitor

        monitor = RunMonitor(namespace)
        monitor.start()
        return monitor
    except Exception as exc:  # the graph runs without the status details
        print(f'[run] status line without ROS details: {exc}', flush=True)
        return None
