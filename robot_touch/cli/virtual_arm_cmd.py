"""
`robot-touch virtual-arm`: emulate an arm's servo controller on a pseudo-terminal.

Prints ``PORT <path>`` (flushed) once the pty is ready, and again after every simulated
replug; with ``--link`` also keeps a symlink pointing at the current pty. Runs until SIGINT
or SIGTERM, then removes the link and exits 0.

The arm's hand is served on a control channel (``--control``, by default ``<link>.control``
with ``--link``); ``robot-touch virtual-arm move --link PATH --joint NAME --to RAD`` turns a
released joint by hand, ``robot-touch virtual-arm state --link PATH`` prints every joint's
true servo state (JSON).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'must be a probability in 0..1, got {text}')
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f'must be a non-negative number, got {text}')
    return value


def _options(text: str) -> dict:
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f'not JSON: {exc}') from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object')
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        'action',
        nargs='?',
        choices=('serve', 'move', 'state'),
        default='serve',
        help='serve the arm (default); move a released joint by hand; print the true servo state',
    )
    parser.add_argument(
        '--arm', metavar='NAME_OR_PATH', help='arm profile (name or YAML path); needed to serve'
    )
    parser.add_argument(
        '--control', metavar='PATH', help="the hand's control socket (default: <link>.control)"
    )
    parser.add_argument('--joint', help='move: the joint to turn')
    parser.add_argument(
        '--to', type=float, metavar='RAD', help='move: where to (rad, or m for a prismatic joint)'
    )
    parser.add_argument(
        '--speed',
        type=float,
        default=1.0,
        metavar='RAD_S',
        help='move: how fast (default 1 rad/s)',
    )
    parser.add_argument(
        '--protocol', help="controller protocol to emulate (default: the profile's)"
    )
    parser.add_argument(
        '--link', metavar='PATH', help='symlink to the pty, re-pointed after a replug'
    )
    parser.add_argument(
        '--drop',
        type=_probability,
        default=0.0,
        metavar='P',
        help='drop a reply with probability P',
    )
    parser.add_argument(
        '--corrupt',
        type=_probability,
        default=0.0,
        metavar='P',
        help='flip one byte of a reply with probability P',
    )
    parser.add_argument(
        '--unplug-after', type=_seconds, metavar='S', help='simulate an unplug after S seconds'
    )
    parser.add_argument(
        '--replug-after',
        type=_seconds,
        default=1.0,
        metavar='S',
        help='seconds until the replug (default 1)',
    )
    parser.add_argument(
        '--latency', type=_seconds, default=0.0, metavar='MS', help='hold every reply back MS ms'
    )
    parser.add_argument('--seed', type=int, help='random seed of the faults')
    parser.add_argument(
        '--options',
        type=_options,
        default={},
        metavar='JSON',
        help="device settings over the profile's protocol_options, "
        'e.g. \'{"channel_range_us": [500, 2500]}\'',
    )


def _control_path(args: argparse.Namespace) -> str | None:
    if args.control:
        return str(args.control)
    return f'{args.link}.control' if args.link else None


def _hand(args: argparse.Namespace) -> int:
    """Return the control channel's client: `move` and `state`."""
    import json

    from robot_touch.virtual_arm.hand import HandError, request

    path = _control_path(args)
    if path is None:
        raise HandError(
            f"{args.action}: give --link PATH (the virtual arm's link) or --control PATH"
        )
    if args.action == 'move':
        if args.joint is None or args.to is None:
            raise HandError('move: give --joint NAME and --to RAD')
        reply = request(
            path, {'op': 'move', 'joint': args.joint, 'to': args.to, 'speed': args.speed}
        )
    else:
        reply = request(path, {'op': 'state'})
    if not reply.get('ok'):
        raise HandError(f'{args.action}: {reply.get("error", "refused")}')
    if args.action == 'move':
        print(f'{reply["joint"]} at {reply["position"]:.4f}')
    else:
        print(json.dumps(reply['joints'], indent=2))
    return 0


def _lock_link(link: str):  # the open lock file
    """
    Hold ``<link>.lock`` exclusively while this virtual arm serves ``link``.

    A second virtual arm for the same link (a second run for the same arm) is refused, and a
    crashed one never blocks the next (the kernel drops the lock with the process).
    """
    import fcntl

    from robot_touch.virtual_arm.server import VirtualArmError

    try:
        handle = open(f'{link}.lock', 'a+')  # held open for the process's life
    except OSError as exc:
        raise VirtualArmError(f'cannot make the link {link}: {exc.strerror}') from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise VirtualArmError(
            f'another virtual arm already serves {link}: one arm has one owner'
        ) from None
    return handle


def run(args: argparse.Namespace) -> int:
    from robot_touch.protocols.registry import device_names
    from robot_touch.virtual_arm.server import Faults, VirtualArm, VirtualArmError

    if args.action != 'serve':
        return _hand(args)
    if not args.arm:
        raise VirtualArmError('give --arm NAME_OR_PATH: the arm to emulate')
    if args.protocol is not None and args.protocol not in device_names():
        raise VirtualArmError(
            f'unknown protocol {args.protocol!r}; known: {", ".join(device_names())}'
        )
    faults = Faults(
        drop=args.drop,
        corrupt=args.corrupt,
        unplug_after=args.unplug_after,
        replug_after=args.replug_after,
        latency=args.latency / 1000.0,
        seed=args.seed,
    )
    stop = threading.Event()

    def announce(path: str) -> None:
        try:
            print(f'PORT {path}', flush=True)
        except (BrokenPipeError, ValueError):  # nobody reads stdout any more: keep serving
            pass

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    lock = _lock_link(args.link) if args.link else None  # kept open (locked) until we exit
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    control = _control_path(args)
    options = None
    if args.options:
        from robot_touch.core.profile import load_profile

        profile = load_profile(args.arm)
        options = {**profile.protocol_options, **args.options}
    arm = VirtualArm(
        args.arm,
        protocol=args.protocol,
        faults=faults,
        link=args.link,
        on_port_change=announce,
        control=control,
        options=options,
    )
    try:
        arm.start()
        assert arm.port_path is not None
        announce(arm.port_path)
        print(
            f'virtual {arm.profile.name} ({arm.protocol}, servos {sorted(arm.servos)}) '
            f'on {arm.port_path}'
            + (f', link {args.link}' if args.link else '')
            + (f', hand on {control}' if control else ''),
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        arm.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if lock is not None:
        lock.close()
    try:
        print(f'virtual arm stopped: {arm.stats}', file=sys.stderr, flush=True)
    except (BrokenPipeError, ValueError):
        pass
    return 0
