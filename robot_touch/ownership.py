"""
One arm, one owner: find who else already drives this arm's graph.

An arm's graph is its ROS domain and namespace. Two teleop nodes (or two bridges) in one graph
silently share the arm: commands at twice the rate, two streams of joint_states. The teleop
node refuses to start when something already publishes the command topics, `robot-touch run`
refuses to start a second graph, and the run's status line shows a conflict that arises later.

The decisions are plain functions of the publishers and nodes seen; :func:`graph_snapshot`
reads them from a live rclpy node's view of the ROS graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import fcntl
import os
import tempfile
import time
from typing import Any, Callable, IO

#: topics that command the arm (teleop → hardware); the serial bridge listens to both
COMMAND_TOPICS = ('forward_position_controller/commands', 'arm_controller/joint_trajectory')
#: the arm's measured state (hardware → everyone)
STATE_TOPIC = 'joint_states'
#: nodes of a robot_touch graph; any of them in the namespace means the graph is already up
GRAPH_NODES = ('teleop', 'serial_bridge', 'sim_arm', 'touch_ui')
#: a publisher whose node is not discovered yet
UNKNOWN = '(a node not yet named)'


@dataclass
class GraphSnapshot:
    """What one namespace of the ROS graph holds: publishers by topic, and node names."""

    namespace: str
    publishers: dict[str, list[str]] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)


def full_name(namespace: str, name: str) -> str:
    """``/ns/name`` (``/name`` without a namespace)."""
    ns = '/' + namespace.strip('/') if namespace.strip('/') else ''
    return f'{ns}/{name}'


def conflicts(snapshot: GraphSnapshot) -> list[str]:
    """
    Each way the graph has more than one owner, in words ("" list: none).

    More than one publisher on the command topics together, or on joint_states, is a conflict.
    """
    out = []
    commanders = [name for topic in COMMAND_TOPICS for name in snapshot.publishers.get(topic, [])]
    if len(commanders) > 1:
        out.append(f'{len(commanders)} nodes command the arm ({", ".join(sorted(commanders))})')
    states = snapshot.publishers.get(STATE_TOPIC, [])
    if len(states) > 1:
        out.append(f'{len(states)} nodes publish joint_states ({", ".join(sorted(states))})')
    return out


def running_graph(snapshot: GraphSnapshot) -> list[str]:
    """Return the robot_touch nodes already running in the snapshot's namespace (full names)."""
    return [full_name(snapshot.namespace, n) for n in snapshot.nodes if n in GRAPH_NODES]


def graph_snapshot(node: Any, namespace: str, exclude: tuple[str, ...] = ()) -> GraphSnapshot:
    """
    Read ``namespace``'s publishers and nodes from ``node``'s view of the graph (rclpy).

    :param exclude: full names of nodes to leave out (the caller itself).
    """
    ns = '/' + namespace.strip('/') if namespace.strip('/') else '/'
    snap = GraphSnapshot(namespace)
    for topic in (*COMMAND_TOPICS, STATE_TOPIC):
        infos = node.get_publishers_info_by_topic(full_name(namespace, topic))
        # An endpoint can be discovered before its node's name: "_NODE_NAME_UNKNOWN_".
        names = [
            UNKNOWN if '_UNKNOWN_' in i.node_name else full_name(i.node_namespace, i.node_name)
            for i in infos
        ]
        snap.publishers[topic] = [n for n in names if n not in exclude]
    snap.nodes = [
        name
        for name, node_ns in node.get_node_names_and_namespaces()
        if node_ns == ns and full_name(node_ns, name) not in exclude
    ]
    return snap


class AlreadyOwned(Exception):
    """Another process holds this role for this arm (see :func:`hold_role`)."""


def role_lock_path(role: str, namespace: str, domain_id: str | None = None) -> str:
    """
    Return the lock file of ``role`` (e.g. "teleop") for one arm.

    One per ROS domain and namespace on this host (the graph does not leave the host unless the
    network is opened).
    """
    label = namespace.strip('/').replace('/', '_') or 'default'
    domain = (
        domain_id if domain_id is not None else os.environ.get('ROS_DOMAIN_ID', '').strip() or '0'
    )
    return os.path.join(tempfile.gettempdir(), f'robot_touch_d{domain}_{label}.{role}.lock')


def hold_role(role: str, namespace: str, domain_id: str | None = None) -> IO[str]:
    """
    Take ``role`` for this arm.

    An exclusive flock held as long as the returned file stays open (the kernel drops it when the
    process ends, however it ends).

    DDS discovery can take a few seconds to show an existing node; the lock answers at once
    for every process on this host.

    :raises AlreadyOwned: another process holds it.
    """
    path = role_lock_path(role, namespace, domain_id)
    handle = open(path, 'a+')  # held open for the process's life
    try:
        os.chmod(path, 0o666)  # another user's run of the same domain and namespace must see it
    except OSError:
        pass
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyOwned(path) from None
    return handle


def watch(
    read: Callable[[], GraphSnapshot], seconds: float, found: Callable[[GraphSnapshot], list[str]]
) -> list[str]:
    """
    Poll ``read()`` for up to ``seconds`` (DDS discovery takes a moment).

    The first non-empty ``found(snapshot)`` with every node named, or [] when the window stayed
    clear (at the deadline, what was found, named or not).
    """
    deadline = time.monotonic() + seconds
    while True:
        hits = found(read())
        if (hits and UNKNOWN not in hits) or time.monotonic() >= deadline:
            return hits
        time.sleep(0.05)
