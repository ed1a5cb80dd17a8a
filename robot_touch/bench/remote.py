"""
`robot-touch bench remote`: what the gateway adds between a touch on a tablet and the arm.

The graph of `robot-touch run --remote` (virtual so101 on a pty, serial_bridge, teleop,
gateway) with the virtual arm in this process, its device wrapped to stamp every goal frame
(:class:`robot_touch.bench.frame_tap.FrameTap`). Two senders of the same targets, interleaved in
one run:

* local: the touch UI's ROS side (:class:`~robot_touch.nodes.touch_ui.TouchUiNode`) in this
  process, publishing ``target_pose`` over DDS;
* tablet: the tablet app's backend (:class:`~robot_touch.tablet.backend.RemoteBackend`,
  roslibpy over wss, holding the control lease) in its own process, through the gateway.

Each sample starts with the arm at rest and is timed from the backend's publish call (what the
app does synchronously when a drag moves the target; the gesture handling before it is the
same code in both apps, measured by ``bench ui``) to (1) the first changed
``forward_position_controller/commands`` at a probe and (2) the first goal frame at the arm
after that command. All stamps are ``time.monotonic()``, one clock for every process (and
every network namespace) on Linux.

``--netns`` repeats the tablet row with the client in another network namespace, joined by an
IPv6-only veth pair with ``tc netem delay 5ms 2ms`` on both ends (root, iproute2). Also
measured: the gateway's CPU time per 1,000 client messages, and the clients it holds at once
(authenticated, each subscribed to joint_states as the tablet app is) with its CPU and memory.
On kernels without the netem qdisc the delay comes from a userspace relay in the client's
namespace (:mod:`robot_touch.bench.delay_relay`), and the report says so.

Longer than our usual module: one benchmark, its setup, three measurements and the report.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from robot_touch.bench.stats import percentile, save_json
from robot_touch.netns import add_delay, exec_prefix, unavailable, veth_pair

ARM = 'so101'
#: The graph's and the client's addresses on the namespace run's IPv6-only link.
HOST_A, HOST_B = 'fd13::1', 'fd13::2'
TICK = os.sysconf('SC_CLK_TCK')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--samples', type=int, default=40, help='targets per sender (default 40)')
    parser.add_argument(
        '--clients', type=int, default=8, help='clients to hold at once (default 8, the cap)'
    )
    parser.add_argument(
        '--messages', type=int, default=1000, help='messages for the CPU figure (default 1000)'
    )
    parser.add_argument(
        '--netns', action='store_true', help='also across IPv6-only namespaces with netem 5ms±2ms'
    )
    # The namespace run re-executes the benchmark inside the graph's namespace:
    parser.add_argument('--inside', default='', help=argparse.SUPPRESS)  # the client's namespace
    parser.add_argument('--relay', action='store_true', help=argparse.SUPPRESS)  # no netem here
    parser.add_argument(
        '--verbose', action='store_true', help="stream the child processes' output"
    )


def _cpu(pid: int) -> float:
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _rss_mb(pid: int) -> float:
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return math.nan


def _free_port() -> int:
    with socket.create_server(('::', 0), family=socket.AF_INET6, dualstack_ipv6=True) as s:
        return s.getsockname()[1]


def run(args: argparse.Namespace) -> int:
    sys.setswitchinterval(0.0005)
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 101)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if args.inside:
        results = _measure(
            args,
            client_prefix=exec_prefix(args.inside),
            host=HOST_A,
            extras=False,
            relay=args.relay,
        )
        save_json(getattr(args, 'json', None), results)
        return 0
    results = _measure(args, client_prefix=(), host='::1', extras=True)
    if args.netns:
        results['netns'] = _netns_run(args)
    _report(results)
    save_json(getattr(args, 'json', None), results)
    return 0


def _measure(
    args: argparse.Namespace,
    client_prefix: tuple[str, ...],
    host: str,
    extras: bool,
    relay: bool = False,
) -> dict[str, Any]:
    with ExitStack() as stack:
        data = tempfile.mkdtemp(prefix='rt_bench_remote_')
        stack.callback(shutil.rmtree, data, True)
        os.environ['ROBOT_TOUCH_DATA'] = data  # a key and token of its own, not the user's
        from robot_touch.bench.frame_tap import FrameTap
        from robot_touch.virtual_arm.server import VirtualArm

        link = os.path.join(data, 'arm.tty')
        arm = VirtualArm(ARM, link=link)
        tap = FrameTap(arm.device)
        arm.start()
        stack.callback(arm.stop)

        from robot_touch.graph import describe, GraphConfig
        from robot_touch.runner import Supervisor

        port = _free_port()
        config = GraphConfig(
            arm=ARM, backend='virtual', ui=False, virtual_link=link, remote=True, remote_port=port
        )
        specs = [s for s in describe(config) if s.name != 'virtual_arm']
        out = sys.stderr if args.verbose else open(os.devnull, 'w')
        supervisor = Supervisor(specs, out=out)
        stack.callback(supervisor.stop, 3.0)
        supervisor.start()
        gateway_pid = next(p.popen.pid for p in supervisor.running if p.spec.name == 'gateway')

        from geometry_msgs.msg import PoseStamped
        from rclpy.executors import SingleThreadedExecutor
        from robot_touch.nodes.touch_ui import start_node, stop_node
        from std_msgs.msg import Float64MultiArray

        node, ui_executor, ui_thread = start_node([])
        stack.callback(stop_node, node, ui_executor, ui_thread)
        lock = threading.Lock()
        poses: list[float] = []
        commands: list[tuple[float, tuple[float, ...]]] = []
        import rclpy

        probe = rclpy.create_node('bench_remote_probe')
        probe.create_subscription(
            PoseStamped, 'target_pose', lambda _m: _append(lock, poses, time.monotonic()), 50
        )
        probe.create_subscription(
            Float64MultiArray,
            'forward_position_controller/commands',
            lambda m: _append(
                lock, commands, (time.monotonic(), tuple(round(v, 9) for v in m.data))
            ),
            200,
        )
        executor = SingleThreadedExecutor()
        executor.add_node(probe)
        threading.Thread(target=executor.spin, daemon=True).start()
        stack.callback(executor.shutdown, 1.0)

        from robot_touch.gateway import tls

        token = tls.token_file('').read()
        fingerprint = tls.ensure_identity().fingerprint
        url = f'wss://[{host}]:{port}'
        if relay:  # the 5 ± 2 ms each way that netem would add, in the client's namespace
            delay = subprocess.Popen(
                [
                    *client_prefix,
                    sys.executable,
                    '-m',
                    'robot_touch.bench.delay_relay',
                    host,
                    str(port),
                    '5',
                    '2',
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            stack.callback(delay.kill)
            url = f'wss://[::1]:{delay.stdout.readline().split()[1]}'
        client = subprocess.Popen(
            [
                *client_prefix,
                sys.executable,
                '-m',
                'robot_touch.bench.remote_client',
                url,
                token,
                fingerprint,
                node.profile.base_link,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        stack.callback(client.kill)
        ready = client.stdout.readline().strip()
        if ready != 'READY':
            raise RuntimeError(f'the tablet client did not connect: {ready}')

        from robot_touch.core.workspace_view import Chain

        home = Chain.from_profile(node.profile).tip(
            dict(zip(node.profile.joint_names, node.profile.home))
        )[:3, 3]
        targets = [home + [0.0, 0.0, -0.02], home + [0.0, 0.015, -0.02]]

        from robot_touch.core.workspace_view import Pose

        def at_rest() -> bool:
            with lock:
                tail = [d for _t, d in commands[-8:]]
            frames = tap.snapshot()[-5:]
            return (
                len(tail) == 8
                and all(d == tail[0] for d in tail)
                and len(frames) == 5
                and all(f[1] == frames[0][1] for f in frames)
                and not any(s.moving for s in arm.servos.values())
            )

        def wait(predicate: Any, timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if predicate():
                    return True
                time.sleep(0.005)
            return False

        if not wait(lambda: len(commands) > 10 and tap.count > 10, 60):
            raise RuntimeError('the graph did not come up')
        rows: dict[str, list[tuple[float, float]]] = {'local': [], 'tablet': []}
        sent = 0
        for _i in range(args.samples):
            for sender in ('local', 'tablet'):
                wait(at_rest, 5.0)
                with lock:
                    resting_cmd = commands[-1][1]
                target = targets[sent % 2]  # every target differs from the one before
                sent += 1
                time.sleep(random.uniform(0.0, 0.01))  # spread over the bridge's cycle phase
                if sender == 'local':
                    t0 = time.monotonic()
                    node.publish_target(Pose(position=target, rotation=_identity()))
                else:
                    client.stdin.write('pose {} {} {}\n'.format(*target))
                    client.stdin.flush()
                    t0 = float(client.stdout.readline().split()[1])
                rows[sender].append(_times(t0, resting_cmd, lock, commands, tap))
        results: dict[str, Any] = {
            'bench': 'remote',
            'samples': args.samples,
            'load_average': os.getloadavg()[0],
        }
        for sender, values in rows.items():
            results[sender] = _summary(values)
        if extras:
            results['cpu_ms_per_1000'] = _cpu_per_message(client, gateway_pid, args.messages)
            results['held'] = _hold_clients(url, token, fingerprint, args.clients, gateway_pid)
        client.stdin.write('quit\n')
        client.stdin.flush()
        return results


def _identity() -> Any:
    import numpy as np

    return np.eye(3)


def _append(lock: threading.Lock, box: list, item: Any) -> None:
    with lock:
        box.append(item)


def _times(
    t0: float, resting: tuple, lock: threading.Lock, commands: list, tap: Any, timeout: float = 2.0
) -> tuple[float, float]:
    t_cmd = t_frame = math.nan
    deadline = t0 + timeout
    while time.monotonic() < deadline and math.isnan(t_frame):
        with lock:
            if math.isnan(t_cmd):
                t_cmd = next((t for t, d in commands if t >= t0 and d != resting), math.nan)
        if not math.isnan(t_cmd):
            t_frame = next((t for t, _g in tap.snapshot() if t > t_cmd), math.nan)
        time.sleep(0.0005)
    return (t_cmd - t0) * 1e3, (t_frame - t0) * 1e3


def _summary(values: list[tuple[float, float]]) -> dict[str, Any]:
    out = {}
    for i, key in enumerate(('cmd_ms', 'frame_ms')):
        got = [v[i] for v in values if not math.isnan(v[i])]
        out[key] = {'n': len(got), 'p50': percentile(got, 50), 'p99': percentile(got, 99)}
    return out


def _cpu_per_message(client: subprocess.Popen, pid: int, n: int) -> dict[str, float]:
    rate = 100.0
    idle_start = _cpu(pid)
    time.sleep(n / rate)
    idle = _cpu(pid) - idle_start
    start = _cpu(pid)
    client.stdin.write(f'jog {n} {rate}\n')
    client.stdin.flush()
    client.stdout.readline()
    busy = _cpu(pid) - start
    return {
        'messages': n,
        'rate_hz': rate,
        'busy_s': busy,
        'idle_s': idle,
        'ms_per_1000': (busy - idle) * 1e3 * 1000 / n,
    }


def _hold_clients(url: str, token: str, fingerprint: str, n: int, pid: int) -> dict[str, Any]:
    import ssl

    from robot_touch.gateway.auth import auth_request
    from websockets.sync.client import connect

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = (
        False,
        ssl.CERT_NONE,
    )  # a local measurement, not a pin check
    before_cpu, before_rss = _cpu(pid), _rss_mb(pid)
    time.sleep(5.0)
    idle_cpu = (_cpu(pid) - before_cpu) / 5.0
    held, refused = [], 0
    for _ in range(n):
        try:
            ws = connect(url, ssl=ctx, open_timeout=10).__enter__()
            ws.send(json.dumps(auth_request(token, 'bench', 'gateway', time.time())))
            ws.send(json.dumps({'op': 'subscribe', 'topic': 'joint_states', 'throttle_rate': 30}))
            ws.send(json.dumps({'op': 'subscribe', 'topic': 'gateway/status'}))
        except Exception:  # the client cap (the bench's tablet counts) refuses
            refused += 1
            continue
        held.append(ws)
    drain = threading.Event()

    def reader(ws: Any) -> None:
        while not drain.is_set():
            try:
                ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            except Exception:  # closed
                return

    for ws in held:
        threading.Thread(target=reader, args=(ws,), daemon=True).start()
    time.sleep(1.0)
    start = _cpu(pid)
    time.sleep(5.0)
    busy_cpu = (_cpu(pid) - start) / 5.0
    rss = _rss_mb(pid)
    alive = sum(1 for ws in held if ws.protocol.state.name == 'OPEN')
    drain.set()
    for ws in held:
        ws.close()
    return {
        'asked': n,
        'held': alive,
        'refused': n - alive,
        'cpu_percent_idle': idle_cpu * 100,
        'cpu_percent_held': busy_cpu * 100,
        'rss_mb_before': before_rss,
        'rss_mb_held': rss,
    }


def _netns_run(args: argparse.Namespace) -> dict[str, Any]:
    reason = unavailable(probe=False)
    if reason:
        return {'skipped': reason}
    with veth_pair('b', str(os.getpid() % 100000), (f'{HOST_A}/64', f'{HOST_B}/64')) as hosts:
        netem = all(add_delay(host, '5ms', '2ms') for host in hosts)
        out = tempfile.NamedTemporaryFile(suffix='.json', delete=False)
        out.close()
        subprocess.run(
            [
                *hosts[0].exec_prefix(),
                sys.executable,
                '-m',
                'robot_touch.cli.main',
                'bench',
                'remote',
                '--json',
                out.name,
                '--samples',
                str(args.samples),
                *([] if netem else ['--relay']),
                '--inside',
                hosts[1].netns,
            ],
            check=True,
            timeout=900,
            stdout=subprocess.DEVNULL if not args.verbose else None,
        )
        with open(out.name) as f:
            results = json.load(f)
        results['delay'] = 'tc netem' if netem else 'userspace relay (this kernel has no netem)'
        return results


def _report(results: dict[str, Any]) -> None:
    print(
        f'bench remote: {ARM} virtual arm, serial_bridge and teleop 100 Hz, '
        f'{results["samples"]} targets per sender, load average {results["load_average"]:.1f}'
    )
    print(f'{"sender":44s} {"n":>4s}  to first changed command  to goal frame after it')
    print(f'{"":49s} {"p50 ms":>12s} {"p99 ms":>13s} {"p50 ms":>11s} {"p99 ms":>12s}')
    rows = [
        ('local UI (touch_ui node, DDS)', results['local']),
        ('tablet via the gateway, loopback', results['tablet']),
    ]
    if 'netns' in results and 'tablet' in results['netns']:
        rows.append(('tablet via the gateway, netns, 5±2 ms each way', results['netns']['tablet']))
    for label, r in rows:
        cmd, frame = r['cmd_ms'], r['frame_ms']
        print(
            f'{label:44s} {cmd["n"]:4d} {cmd["p50"]:12.2f} {cmd["p99"]:13.2f} '
            f'{frame["p50"]:11.2f} {frame["p99"]:12.2f}'
        )
    added = results['tablet']['cmd_ms']['p50'] - results['local']['cmd_ms']['p50']
    print(f'gateway adds {added:.2f} ms p50 on loopback (goal: at most 2 ms)')
    cpu = results['cpu_ms_per_1000']
    print(
        f'gateway CPU: {cpu["ms_per_1000"]:.0f} ms per 1,000 messages '
        f'({cpu["messages"]} at {cpu["rate_hz"]:g} Hz, idle subtracted)'
    )
    held = results['held']
    print(
        f"clients held: {held['held']} of {held['asked']} asked (+ the bench's tablet; cap 8, "
        f'{held["refused"]} refused); gateway CPU {held["cpu_percent_idle"]:.1f} % -> '
        f'{held["cpu_percent_held"]:.1f} %, RSS {held["rss_mb_before"]:.0f} -> '
        f'{held["rss_mb_held"]:.0f} MB'
    )
    if 'netns' in results and 'delay' in results['netns']:
        print(f'namespace run: IPv6-only veth pair, delay by {results["netns"]["delay"]}')
    if 'netns' in results and 'skipped' in results['netns']:
        print(f'namespace run skipped: {results["netns"]["skipped"]}')
