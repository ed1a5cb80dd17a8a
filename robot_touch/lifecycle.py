"""
Children that die with their parent: a graph never outlives the runner that started it.

`robot-touch run` starts each process of the graph with ``ROBOT_TOUCH_PARENT_PID`` set to its
own PID. The child calls :func:`die_with_parent` first thing: Linux then sends it SIGTERM the
moment the runner ends, however it ends (SIGKILL, a crash, a closed ssh session), and each node
shuts down cleanly on SIGTERM (the serial bridge's last act is a hold, see serial_bridge.yaml).
Programs that are not ours (Xvfb) are started through ``python -m robot_touch.lifecycle PROGRAM
ARGS...``, which sets the same signal and then becomes the program (execvp keeps it).

Should the clean shutdown take longer than :data:`ORPHAN_GRACE` (a loaded machine, a hung
driver), the orphan ends itself hard: nothing of the graph survives the runner by more than
~2.5 s. The runner's own stop (Ctrl-C, SIGTERM, SIGHUP) is gentler and ordered: see
:meth:`robot_touch.runner.Supervisor.stop`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

#: the environment variable that carries the runner's PID to its children
PARENT_ENV = 'ROBOT_TOUCH_PARENT_PID'
#: prctl(2) option: the signal this process gets when its parent dies (linux/prctl.h)
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """
    Have the kernel send ``sig`` to this process when the runner that started it dies.

    Reads (and removes, so grandchildren do not inherit it) :data:`PARENT_ENV`. If the parent
    has already gone, ``sig`` is raised at once.

    :returns: True when the death signal is armed; False without :data:`PARENT_ENV` or off Linux.
    """
    expected = os.environ.pop(PARENT_ENV, '')
    if not expected or not sys.platform.startswith('linux'):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    # The parent may have died between fork and prctl: then nobody would ever signal us.
    if os.getppid() != int(expected):
        os.kill(os.getpid(), sig)
    # SIGTERM starts a clean shutdown, which a loaded machine or a hung driver can stretch;
    # a runner that died must still leave nothing behind: end hard ORPHAN_GRACE s later.
    threading.Thread(
        target=_end_when_orphaned, args=(int(expected),), name='die_with_parent', daemon=True
    ).start()
    return True


#: seconds an orphaned child gets for its clean shutdown before it ends itself hard
ORPHAN_GRACE = 2.0


def _end_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    time.sleep(ORPHAN_GRACE)
    os._exit(128 + signal.SIGTERM)  # the clean shutdown did not finish in time


def main(argv: list[str] | None = None) -> int:
    """``python -m robot_touch.lifecycle PROGRAM [ARGS...]``: arm the death signal, then exec."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print('usage: python -m robot_touch.lifecycle PROGRAM [ARGS...]', file=sys.stderr)
        return 2
    die_with_parent()
    os.execvp(argv[0], argv)
    return 127  # not reached: execvp replaces this process or raises


if __name__ == '__main__':
    sys.exit(main())
