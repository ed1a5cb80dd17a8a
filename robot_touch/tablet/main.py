"""
`robot-touch-tablet [URL] [--token T --fingerprint FP] [--take-control]`.

The touch app on a tablet or any desktop, connected to a robot's gateway. Without a complete
pairing it opens the connect screen (paste the pairing, or pick a remembered robot).

Imports no rclpy, roboticstoolbox, mujoco or scipy: what a tablet can carry is kivy, numpy,
pyyaml, roslibpy and qrcode (the ``tablet`` extra).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Sequence

from robot_touch.ui.i18n import LANGUAGES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='robot-touch-tablet', description='Drive a robot arm from this tablet.'
    )
    parser.add_argument(
        'url',
        nargs='?',
        default='',
        help="the robot's gateway, wss://host:9090 (robot-touch pair)",
    )
    parser.add_argument('--token', default='', help='the pairing token')
    parser.add_argument(
        '--fingerprint', default='', help="the gateway certificate's SHA-256 fingerprint"
    )
    parser.add_argument(
        '--take-control', action='store_true', help='ask for control on every connection'
    )
    parser.add_argument(
        '--language', default='en', choices=tuple(LANGUAGES), help='language at start'
    )
    parser.add_argument('--window-size', default='1280x800', help='WIDTHxHEIGHT in pixels')
    parser.add_argument('--fullscreen', action='store_true', help='fill the screen')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not re.fullmatch(r'[1-9]\d{1,4}x[1-9]\d{1,4}', args.window_size):
        print(
            'robot-touch-tablet: error: --window-size must be WIDTHxHEIGHT, '
            f'got {args.window_size!r}',
            file=sys.stderr,
        )
        return 2
    try:
        import roslibpy  # noqa: F401 - the link library; say plainly when it is missing
    except ImportError:
        print(
            'robot-touch-tablet: error: roslibpy is not installed '
            "(pip install 'robot_touch[tablet]')",
            file=sys.stderr,
        )
        return 2
    from robot_touch.tablet.pairing import check, PairingError

    pairing = None
    if args.url:
        try:
            pairing = check(args.url, args.token, args.fingerprint)
        except PairingError as exc:
            print(f'robot-touch-tablet: error: {exc}', file=sys.stderr)
            return 2
    os.environ.setdefault('KIVY_NO_ARGS', '1')
    from kivy.config import Config  # window settings before the window exists

    width, height = args.window_size.split('x')
    Config.set('graphics', 'width', width)
    Config.set('graphics', 'height', height)
    if args.fullscreen:
        Config.set('graphics', 'fullscreen', 'auto')
    from robot_touch.tablet.app import TabletApp
    from robot_touch.ui.app import UiSettings

    app = TabletApp(
        pairing=pairing,
        take_control=args.take_control,
        settings=UiSettings(language=args.language),
    )
    try:
        app.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
