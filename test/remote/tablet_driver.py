"""
The tablet app in a process of its own, driven by JSON commands on stdin.

rclpy, roboticstoolbox, mujoco and scipy cannot be imported there (an import hook refuses
them, as a tablet without them would); JSON lines on stdout say what it shows.

Usage: python tablet_driver.py URL TOKEN FINGERPRINT

Commands: {"cmd": "state"}, {"cmd": "drag", "view": "top", "dx": -40, "dy": 40},
{"cmd": "tap", "id": "enable"},
{"cmd": "screenshot", "path": "..."}, {"cmd": "modules"}, {"cmd": "quit"}.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import queue
import sys
import threading
import time

BLOCKED = ('rclpy', 'roboticstoolbox', 'mujoco', 'scipy', 'ruckig')


class Refuse(importlib.abc.MetaPathFinder):
    """No module of the blocked packages can be imported in this process."""

    attempts: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split('.')[0] in BLOCKED:
            self.attempts.append(fullname)
            raise ImportError(f'{fullname} is not available on a tablet (blocked by the test)')
        return None


sys.meta_path.insert(0, Refuse())


def say(**item) -> None:
    print(json.dumps(item), flush=True)


def main() -> None:
    url, token, fingerprint = sys.argv[1:4]
    os.environ['KIVY_NO_ARGS'] = '1'
    from kivy.config import Config

    Config.set('graphics', 'width', '1280')
    Config.set('graphics', 'height', '800')
    Config.set('input', 'mouse', 'mouse,disable_multitouch')
    from kivy.base import EventLoop
    from robot_touch.tablet.app import TabletApp
    from robot_touch.tablet.pairing import check
    from robot_touch.ui.embedded import start_embedded
    from robot_touch.ui.synthetic_touch import Finger

    app = TabletApp(pairing=check(url, token, fingerprint), take_control=True)
    start_embedded(app)
    commands: queue.Queue = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            commands.put(json.loads(line))
        commands.put({'cmd': 'quit'})

    threading.Thread(target=read, daemon=True).start()
    say(kind='ready')

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            EventLoop.idle()

    while True:
        EventLoop.idle()
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            continue
        name = cmd.get('cmd')
        if name == 'quit':
            break
        if name == 'state':
            remote = app.backend_remote
            link = remote.link_state() if remote else None
            ids = app.arm_root.ids if app.arm_root is not None else None
            say(
                kind='state',
                phase=link.phase if link else '',
                you_hold=bool(link and link.you_hold),
                link_text=app.link_text,
                arm_ui=ids is not None,
                views_disabled=bool(ids and ids.top_view.disabled),
                estop_disabled=bool(ids and ids.estop.disabled),
                enabled=bool(app.enabled),
                # teleop's own word ('true', 'false'; '' before its first status arrived)
                teleop_enabled=(remote.latest_status_values() if remote else {}).get(
                    'enabled', ''
                ),
                joints=dict(app.joints) if ids is not None else {},
                blocked_attempts=Refuse.attempts,
            )
        elif name == 'drag':
            view = (
                app.arm_root.ids.top_view
                if cmd.get('view', 'top') == 'top'
                else app.arm_root.ids.side_view
            )
            x0, y0 = view.to_window(*view.center)
            finger = Finger(x0, y0).down()
            steps = int(cmd.get('steps', 20))
            for i in range(1, steps + 1):
                finger.move_to(x0 + cmd['dx'] * i / steps, y0 + cmd['dy'] * i / steps)
                pump(0.02)
            finger.up()
            pump(0.2)
            target = app.target.position.tolist() if app.target is not None else None
            say(kind='dragged', target=target, sent=app.backend_remote.command_rate())
        elif name == 'tap':
            ids = app.arm_root.ids
            widget = ids.enable_slot.children[0] if cmd['id'] == 'enable' else ids[cmd['id']]
            finger = Finger(*widget.to_window(*widget.center)).down()
            pump(0.05)
            finger.up()
            pump(0.05)
            say(kind='tapped', id=cmd['id'])
        elif name == 'screenshot':
            from kivy.core.window import Window

            Window.screenshot(name=cmd['path'])
            say(kind='screenshot', path=cmd['path'])
        elif name == 'modules':
            say(kind='modules', modules=sorted({m.split('.')[0] for m in sys.modules}))
    app.stop()
    say(kind='bye')


if __name__ == '__main__':
    main()
