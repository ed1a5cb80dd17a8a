"""
TCP relay that delays every chunk by ``mean ± jitter`` ms, both ways, in byte order.

The delay is normal and never negative: ``bench remote --netns``'s stand-in for
``tc netem delay 5ms 2ms`` on kernels without the netem qdisc.

    python -m robot_touch.bench.delay_relay TARGET_HOST TARGET_PORT MEAN_MS JITTER_MS

Listens on ``[::1]`` (a free port, printed as ``PORT n``) and relays one connection at a time
to the target. Runs until killed.
"""

from __future__ import annotations

import heapq
import random
import socket
import sys
import threading
import time


def _pump(src: socket.socket, dst: socket.socket, mean: float, jitter: float) -> None:
    queue: list[tuple[float, int, bytes]] = []
    ready = threading.Condition()
    seq = [0]
    last_due = [0.0]

    def sender() -> None:
        while True:
            with ready:
                while not queue or queue[0][0] > time.monotonic():
                    ready.wait(max(0.0, queue[0][0] - time.monotonic()) if queue else None)
                _due, _n, data = heapq.heappop(queue)
            if not data:
                dst.shutdown(socket.SHUT_WR)
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    threading.Thread(target=sender, daemon=True).start()
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b''
        delay = max(0.0, random.gauss(mean, jitter)) / 1000.0
        # In order, as a stream: never before the chunk ahead of it.
        due = max(last_due[0], time.monotonic() + delay)
        last_due[0] = due
        with ready:
            seq[0] += 1
            heapq.heappush(queue, (due, seq[0], data))
            ready.notify()
        if not data:
            return


def main() -> int:
    host, port, mean, jitter = (
        sys.argv[1],
        int(sys.argv[2]),
        float(sys.argv[3]),
        float(sys.argv[4]),
    )
    listener = socket.create_server(('::1', 0), family=socket.AF_INET6)
    print(f'PORT {listener.getsockname()[1]}', flush=True)
    while True:
        conn, _addr = listener.accept()
        upstream = socket.create_connection((host, port))
        for sock in (conn, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pump, args=(a, b, mean, jitter), daemon=True).start()


if __name__ == '__main__':
    sys.exit(main())
