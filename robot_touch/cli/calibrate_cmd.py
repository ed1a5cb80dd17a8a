"""
`robot-touch calibrate --arm NAME --port URL [--out FILE]`: calibrate a real arm by hand.

Torque is released; the person moves the arm to its zero pose, then each joint in its
positive direction (the sign is checked and flipped if the servo counts the other way),
then every joint through its range, pressing Enter after each step while one refreshing
line shows every joint's raw reading and angle. The steps are
:class:`robot_touch.core.calibration.CalibrationProcedure`; this module does the I/O. The
servos' own settings (Homing Offset, limits, drive mode) are read first and recorded, so
the bridge can tell when they change.

`robot-touch calibrate --from-lerobot FILE.json --arm so101 [--out FILE]` converts a
LeRobot calibration instead (no port needed) and prints every assumption it makes
(:mod:`robot_touch.core.lerobot_calibration`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import queue
import sys
import threading

READ_PERIOD = 0.05  # s between readings shown on the live line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--arm', required=True, help='profile name or path to a profile YAML')
    parser.add_argument('--port', help='serial port or pyserial URL (see `robot-touch ports`)')
    parser.add_argument(
        '--from-lerobot',
        metavar='FILE.json',
        help='convert a LeRobot calibration file instead (no port needed)',
    )
    parser.add_argument('--protocol', default='', help="servo protocol (default: the profile's)")
    parser.add_argument(
        '--baudrate', type=int, default=0, help="bits per second (default: the profile's)"
    )
    parser.add_argument(
        '--out', help='where to write (default: <user data>/calibration/<arm>.yaml)'
    )


def _stdin_lines() -> queue.Queue[str | None]:
    """Lines typed on stdin, delivered without blocking the reading loop (None = EOF)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in sys.stdin:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name='calibrate_stdin', daemon=True).start()
    return lines


def _from_lerobot(args: argparse.Namespace, out: Path) -> int:
    import datetime as dt

    from robot_touch.core.calibration import save_calibration
    from robot_touch.core.lerobot_calibration import (
        convert_lerobot_calibration,
        load_lerobot_calibration,
    )
    from robot_touch.core.profile import load_profile

    profile = load_profile(args.arm)
    motors = load_lerobot_calibration(args.from_lerobot)
    when = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    cal, notes = convert_lerobot_calibration(profile, motors, args.from_lerobot, when)
    print(
        f'{args.from_lerobot}: LeRobot calibration of {len(motors)} motors -> {profile.name}. '
        'Assumed:'
    )
    for note in notes:
        print(f'  - {note}')
    for name, jc in cal.joints.items():
        low, high = jc.joint_range() or (float('nan'), float('nan'))
        print(
            f'  {name}: zero {jc.zero:g}, direction {jc.direction:+d}, '
            f'range {low:+.3f}..{high:+.3f} rad'
        )
    if out.exists():
        out.replace(out.with_suffix(out.suffix + '.bak'))
    save_calibration(cal, out)
    print(f'calibration written to {out}; the bridge loads it by default')
    return 0


def run(args: argparse.Namespace) -> int:
    from robot_touch.core.calibration import (
        CalibrationProcedure,
        default_calibration_path,
        merge_calibration,
        save_calibration,
    )
    from robot_touch.core.profile import load_profile
    from robot_touch.core.servo_settings import CALIBRATION_REGISTERS
    from robot_touch.errors import RobotTouchError
    from robot_touch.protocols.base import BusError
    from robot_touch.protocols.registry import get_bus_class, open_port

    profile = load_profile(args.arm)
    out = Path(args.out).expanduser() if args.out else default_calibration_path(profile.name)
    if args.from_lerobot:
        return _from_lerobot(args, out)
    if not args.port:
        raise RobotTouchError(
            "give --port URL (the arm's serial port), or --from-lerobot FILE.json"
        )
    protocol = args.protocol or profile.protocol
    baudrate = args.baudrate or profile.baudrate
    bus_class = get_bus_class(protocol)
    port = open_port(args.port, baudrate)
    names = {spec.servo_id: spec.name for spec in profile.all_joints}
    bus = bus_class(port, list(names), profile.protocol_options, 2)
    live = sys.stdout.isatty()
    try:
        bus.set_torque(False)
        print(f'{profile.name} on {args.port}: torque released. Support the arm; it can now fall.')
        print('Press Enter after each step (Ctrl-C or end of input aborts, nothing is written).')
        proc = CalibrationProcedure(profile, merge_calibration(profile, None))
        settings = bus.read_settings()
        proc.servo_settings = {
            names[sid]: {k: v for k, v in values.items() if k in CALIBRATION_REGISTERS}
            for sid, values in settings.items()
        }
        lines = _stdin_lines()
        shown_step = None
        printed = ''

        def read() -> None:
            raw = bus.read_positions()
            proc.feed({names[sid]: value for sid, value in raw.items() if sid in names})

        while not proc.done:
            if proc.step is not shown_step:
                shown_step = proc.step
                print(f'\n{proc.step.prompt}', flush=True)
            read()
            line = proc.live_line()
            if live:
                sys.stdout.write('\r\x1b[K' + line)
                sys.stdout.flush()
            elif line != printed:
                print(line, flush=True)  # scripts and logs get a line per change, not 20 a second
                printed = line
            try:
                typed = lines.get(timeout=READ_PERIOD)
            except queue.Empty:
                continue
            if typed is None:
                print('\ncalibration aborted (end of input): nothing written', file=sys.stderr)
                return 1
            read()  # judge the pose the arm is in when Enter is pressed
            outcome = proc.enter()
            print(('\n' if live else '') + outcome.message, flush=True)
        result = proc.result(protocol)
        if out.exists():
            out.replace(out.with_suffix(out.suffix + '.bak'))
        save_calibration(result, out)
        print(
            f'calibration written to {out}'
            + (f' (flipped: {", ".join(proc.flipped)})' if proc.flipped else '')
        )
        print('The bridge loads it by default; torque is still released.')
        return 0
    except BusError as exc:
        print(
            f'\nno reply from the servos ({exc}): check power, cable and --port/--baudrate',
            file=sys.stderr,
        )
        return 2
    finally:
        bus.close()
        port.close()
