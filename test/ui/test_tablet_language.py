"""
The tablet app speaks the user's language: its connect screen and link bar in Vietnamese.

The app runs in a process of its own (a Kivy process has one window), started as
``robot-touch-tablet --language vi`` would start it, on a 1280x800 tablet in landscape and an
800x1280 one in portrait. What the user reads is checked, and the layout checker
(test/support/layout_check.py) finds no cut text and no touch control under 9 mm on the longer
Vietnamese texts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.ui]

HERE = Path(__file__).resolve().parent

TABLET = """
import json, os, sys
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])  # test/, for the support package
os.environ['KIVY_NO_ARGS'] = '1'
width, height = (int(v) for v in sys.argv[2].split('x'))
from kivy.config import Config
Config.set('graphics', 'width', str(width)); Config.set('graphics', 'height', str(height))
from kivy.base import EventLoop
from kivy.factory import Factory
from kivy.metrics import Metrics
from robot_touch.tablet.app import TabletApp
from robot_touch.tablet.pairing import Robots
from robot_touch.ui.app import UiSettings
from robot_touch.ui.embedded import start_embedded
from support.layout_check import check_layout

DPI = Metrics.dpi  # the tablet's, as Android reports it (KIVY_DPI here)
robots = Robots(__import__('pathlib').Path(sys.argv[3]))
app = TabletApp(settings=UiSettings(language='vi'), robots=robots)
start_embedded(app)
for _ in range(5):
    EventLoop.idle()
shown = {}
typed = ('pairing_text', 'url', 'token', 'fingerprint')  # what the user types
for name, widget in app.connect_screen.ids.items():
    if hasattr(widget, 'text') and name not in typed:
        shown[name] = widget.text
texts = [w.text for w in app.connect_screen.walk() if type(w).__name__ == 'Label']
problems = check_layout(app.shell, (width, height), DPI, Metrics.density)
# The link bar of a connected tablet, as wide as the window, in both control states.
app.shell.clear_widgets()
bar = Factory.LinkBar()
app.shell.add_widget(bar)
bar_texts = {}
for holding in (False, True):
    app.link_up, app.holding = True, holding
    for _ in range(3):
        EventLoop.idle()
    bar_texts[str(holding)] = bar.ids.control.text
    problems += check_layout(app.shell, (width, height), DPI, Metrics.density)
lost = app._link_words(SimpleNamespace(phase='disconnected', detail='', rtt_ms=None))
viewing = app._link_words(
    SimpleNamespace(phase='connected', you_hold=False, holder='client 2', rtt_ms=12.0)
)
found = {'shown': shown, 'texts': texts, 'bar': bar_texts, 'lost': lost, 'viewing': viewing}
found.update(problems=problems, dpi=DPI)
print('FOUND ' + json.dumps(found), flush=True)
os._exit(0)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize('size', ['1280x800', '800x1280'])
def test_the_tablet_app_in_vietnamese(xdisplay: str, tmp_path: Path, size: str) -> None:
    """Check that a Vietnamese user reads Vietnamese on the connect screen and the link bar."""
    env = {**os.environ, 'DISPLAY': xdisplay, 'ROBOT_TOUCH_DATA': str(tmp_path)}
    env['KIVY_DPI'] = '150'  # a 10-inch 1280x800 tablet
    env.pop('KIVY_METRICS_DENSITY', None)
    out = subprocess.run(
        [sys.executable, '-c', TABLET, str(HERE.parent), size, str(tmp_path / 'robots.json')],
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith('FOUND ')), None)
    assert line is not None, (out.stdout + out.stderr)[-3000:]
    found = json.loads(line[len('FOUND '):])
    assert found['shown']['connect'] == 'Kết nối'
    assert found['shown']['take_control'] == 'Nhận điều khiển khi kết nối'
    help_text = 'Trên máy tính của robot: chạy robot-touch pair'
    assert any(t.startswith(help_text) for t in found['texts'])
    assert 'robot_touch: kết nối tới một robot' in found['texts']
    assert found['bar'] == {'False': 'Nhận điều khiển', 'True': 'Trả điều khiển'}
    assert found['lost'] == (
        'Mất kết nối: đang kết nối lại · các nút di chuyển đã tắt (cánh tay giữ nguyên)'
    )
    assert found['viewing'] == 'Đã kết nối · 12 ms · chỉ xem: client 2 đang điều khiển'
    assert found['dpi'] == 150
    assert found['problems'] == [], '\n'.join(found['problems'])
