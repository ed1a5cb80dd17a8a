"""`robot-touch run`: start the whole graph (virtual arm or real arm or MuJoCo, teleop, UI).

Without a display the UI runs on Xvfb. `--demo` replays a built-in gesture script through
the real stack, saves a screenshot and a plot of commanded vs measured joints under out/,
and exits 0 when the demo is done.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

from robot_touch.errors import RobotTouchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arm", default="so101", help="arm profile name or path to its YAML (default so101)")
    parser.add_argument(
        "--backend", default="virtual", choices=("virtual", "serial", "sim"), help="what moves (default: virtual arm on a pty)"
    )
    parser.add_argument("--port", default="", help="serial port URL for --backend serial (e.g. /dev/ttyUSB0)")
    parser.add_argument("--no-ui", action="store_true", help="do not start the touch UI")
    parser.add_argument("--demo", action="store_true", help="replay a demo gesture script, save results under --out, exit")
    parser.add_argument("--namespace", default="", help="ROS namespace for this arm")
    parser.add_argument("--rate", type=float, default=100.0, help="control rate, Hz (default 100)")
    parser.add_argument("--out", default="out", help="folder for the demo's screenshot, plot and log (default out/)")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0 = run until Ctrl-C)")
    remote = parser.add_argument_group("remote access (tablets; see `robot-touch pair`)")
    remote.add_argument(
        "--remote", action="store_true", help="start the secure gateway (rosbridge v2, wss)"
    )
    remote.add_argument(
        "--remote-port", type=int, default=9090, metavar="PORT", help="gateway port (9090)"
    )
    remote.add_argument(
        "--remote-bind", default="::", metavar="ADDR", help="gateway address (:: = all, v6 and v4)"
    )
    remote.add_argument(
        "--remote-insecure", action="store_true", help="plain ws:// without TLS (warns)"
    )

def run(args: argparse.Namespace) -> int:
    from robot_touch.core.profile import load_profile
    from robot_touch.display import Xvfb, has_display
    from robot_touch.graph import GraphConfig, describe
    from robot_touch.runner import Supervisor

    profile = load_profile(args.arm)  # fail early, with the profile's own error
    if not args.no_ui and not args.demo and not has_display() and args.duration <= 0:
        # Headless (CI, a server, `make run` over ssh): show the stack working instead of
        # waiting for touches that cannot come.
        print("[run] no display: running the built-in demo (--demo) on Xvfb", flush=True)
        args.demo = True
    try:
        config = GraphConfig(
            arm=str(profile.path) if "/" in args.arm or args.arm.endswith((".yaml", ".yml")) else profile.name,
            backend=args.backend,
            port=args.port,
            ui=not args.no_ui,
            namespace=args.namespace,
            demo=args.demo,
            demo_out=str(Path(args.out).resolve()),
            control_rate=args.rate,
            remote=args.remote or args.remote_insecure,
            remote_port=args.remote_port,
            remote_bind=args.remote_bind,
            remote_insecure=args.remote_insecure,
        )
    except ValueError as exc:
        raise RobotTouchError(str(exc)) from None
    specs = describe(config)
    missing = [s.name for s in specs if importlib.util.find_spec(s.module) is None]
    if missing:
        raise RobotTouchError(f"not installed in this build: {', '.join(missing)}")

    out_dir = Path(args.out).resolve()
    if args.demo:
        out_dir.mkdir(parents=True, exist_ok=True)
    extra_env: dict[str, dict[str, str]] = {"touch_ui": {}}

    xvfb = None
    if config.ui and not has_display():
        xvfb = Xvfb()
        display = xvfb.start()
        print(f"[run] no display: the UI runs on Xvfb {display}", flush=True)
        extra_env["touch_ui"]["DISPLAY"] = display
    supervisor = Supervisor(specs, namespace=config.namespace, extra_env=extra_env)
    started = time.monotonic()
    monitor = None
    names = ", ".join(s.name for s in specs)
    print(f"[run] {profile.name} on backend {config.backend}: starting {names}", flush=True)
    try:
        supervisor.start()
        demo_done = lambda: any(  # noqa: E731
            p.spec.name == "touch_ui" and p.popen.poll() == 0 for p in supervisor.running
        )
        until = None
        if args.demo:
            until = demo_done
        elif args.duration > 0:
            until = lambda: time.monotonic() - started > args.duration  # noqa: E731
        monitor = _start_monitor(config.namespace)

        def status() -> str:
            down = [f"{p.spec.name} exited {p.popen.returncode}" for p in supervisor.running if p.popen.poll() is not None]
            processes = ", ".join(down) if down else f"{len(supervisor.running)} processes up"
            ros = f" · {monitor.summary()}" if monitor is not None else ""
            return f"up {time.monotonic() - started:.0f} s: {processes}{ros}"

        code = supervisor.supervise(until=until, status=status)
    finally:
        supervisor.stop()
        if monitor is not None:
            monitor.stop()
        if xvfb:
            xvfb.stop()
    if args.demo and code == 0:
        print(f"[run] demo finished: results in {os.path.abspath(out_dir)}", flush=True)
    return code


def _start_monitor(namespace: str):  # noqa: ANN202 - RunMonitor or None
    """The ROS side of the status line; None (process states only) if rclpy cannot start."""
    try:
        from robot_touch.run_monitor import RunMonitor

        monitor = RunMonitor(namespace)
        monitor.start()
        return monitor
    except Exception as exc:  # noqa: BLE001 - the graph runs without the status details
        print(f"[run] status line without ROS details: {exc}", flush=True)
        return None
