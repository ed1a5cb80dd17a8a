"""
Start and stop a Kivy app whose frames the caller runs (``EventLoop.idle``): tests, benchmarks.

``App.run`` keeps Kivy's main loop until the window closes (and Kivy must run on the main
thread), so a test or a benchmark that steps frames itself cannot use it. Kivy's public API has
the pieces ``App.run`` is made of: :func:`start_embedded` does what it does before its loop
(build, put the root on the window, title and icon, ``on_start``) and starts the loop in
embedded mode (``runTouchApp(embedded=True)``); :func:`stop_embedded` is ``App.stop``. Nothing
here calls App's private ``_run_prepare`` or ``_stop``. Left out: the settings panel's F1 key
(App's private ``_install_settings_keys``), which no caller of this module uses.
"""

from __future__ import annotations

from kivy.app import App
from kivy.base import EventLoop, runTouchApp
from kivy.uix.widget import Widget


def start_embedded(app: App) -> Widget:
    """
    Build ``app``, show its root on the window and start Kivy's event loop in embedded mode.

    :param app: the app, not yet built.
    :returns: the app's root widget.
    :raises TypeError: when ``build`` gives no widget.
    """
    app.load_config()
    app.load_kv(filename=app.kv_file)
    root = app.build()
    if root is not None:
        app.root = root
    if not isinstance(app.root, Widget):
        raise TypeError(f'{type(app).__name__}.build() must return a Widget')
    EventLoop.ensure_window()
    window = EventLoop.window
    window.add_widget(app.root)
    window.set_title(app.get_application_name())
    icon = app.get_application_icon()
    if icon:
        window.set_icon(icon)
    app.dispatch('on_start')
    runTouchApp(embedded=True)
    return app.root


def stop_embedded(app: App) -> None:
    """Stop ``app`` (``on_stop``, then Kivy's event loop) and take its root off the window."""
    app.stop()
    root = app.root
    if root is not None and root.parent is not None:
        root.parent.remove_widget(root)
