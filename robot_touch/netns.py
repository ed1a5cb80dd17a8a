"""
Network namespaces for multi-host runs on one machine: two "hosts" joined by a veth pair.

Used by ``robot-touch bench remote --netns`` and by the network and remote test tiers (which
import it rather than keep copies: the package cannot import the tests, the tests can import
the package). iproute2 does the work (``ip netns``, ``ip link``, ``tc``); this module only
names things, orders the commands and always removes what it made. Needs root.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
import ipaddress
import os
import shutil
import subprocess
from typing import Iterator, Sequence


class NetnsError(RuntimeError):
    """An ``ip`` command failed; the message carries its stderr."""


@dataclass(frozen=True)
class Host:
    """
    One end of a :func:`veth_pair`.

    :ivar netns: the network namespace's name (``ip netns exec NAME``).
    :ivar dev: its end of the veth pair.
    :ivar address: its address on the link, without the prefix length.
    """

    netns: str
    dev: str
    address: str

    def exec_prefix(self) -> tuple[str, ...]:
        """Return the argv prefix that runs a command inside this namespace."""
        return exec_prefix(self.netns)


def exec_prefix(netns: str) -> tuple[str, ...]:
    """Return the argv prefix that runs a command inside network namespace ``netns``."""
    return ('ip', 'netns', 'exec', netns)


def unavailable(tools: Sequence[str] = ('ip',), probe: bool = True) -> str:
    """
    Return why namespaces cannot be made here ('' when they can).

    :param tools: the programs the caller needs besides root (``ip``; ``ss``, ``tc``).
    :param probe: also create and delete a namespace (a container may refuse even root).
    """
    if os.geteuid() != 0:
        return 'network namespaces need root'
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        return f'iproute2 ({", ".join(missing)}) is not installed'
    if probe:
        name = f'rtprobe{os.getpid()}'
        made = subprocess.run(['ip', 'netns', 'add', name], capture_output=True, text=True)
        if made.returncode != 0:
            return f'cannot create a network namespace: {made.stderr.strip()}'
        subprocess.run(['ip', 'netns', 'del', name], capture_output=True)
    return ''


def _ip(*args: str) -> None:
    done = subprocess.run(['ip', *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise NetnsError(f'ip {" ".join(args)}: {done.stderr.strip()}')


@contextmanager
def veth_pair(
    label: str, tag: str, addresses: tuple[str, str], multicast: bool = False
) -> Iterator[tuple[Host, Host]]:
    """
    Make two network namespaces joined by one veth pair, and remove them on exit.

    Each namespace gets its loopback up and one address on the link. IPv6 addresses skip
    duplicate address detection (``nodad``), so they are usable at once.

    :param label: a short name for the pair (namespaces ``rt<label>a<tag>``, ``rt<label>b<tag>``;
        devices ``v<label>a<tag>``, at most 15 characters).
    :param tag: what makes the names unique to this run (a pid, a random hex string).
    :param addresses: each end's address with its prefix length (``10.213.4.1/24``,
        ``fd13::1/64``).
    :param multicast: switch multicast on at both ends (DDS discovery).
    :returns: the two ends, as :class:`Host`.
    :raises NetnsError: a command failed (what was made is removed first; a namespace of that
        name made by someone else is left alone).
    """
    names = [f'rt{label}{end}{tag}' for end in 'ab']
    devs = [f'v{label}{end}{tag}' for end in 'ab']
    if max(len(d) for d in devs) > 15:
        raise ValueError(f'device names longer than 15 characters: {devs}')
    hosts = tuple(
        Host(ns, dev, str(ipaddress.ip_interface(addr).ip))
        for ns, dev, addr in zip(names, devs, addresses)
    )
    made: list[str] = []
    try:
        for ns in names:
            _ip('netns', 'add', ns)
            made.append(ns)
        _ip('link', 'add', devs[0], 'type', 'veth', 'peer', 'name', devs[1])
        for ns, dev, addr in zip(names, devs, addresses):
            _ip('link', 'set', dev, 'netns', ns)
            _ip('-n', ns, 'link', 'set', 'lo', 'up')
            if ipaddress.ip_interface(addr).version == 6:
                _ip('-n', ns, '-6', 'addr', 'add', addr, 'dev', dev, 'nodad')
            else:
                _ip('-n', ns, 'addr', 'add', addr, 'dev', dev)
            _ip('-n', ns, 'link', 'set', dev, 'up', *(['multicast', 'on'] if multicast else []))
        yield hosts[0], hosts[1]
    finally:
        for ns in made:  # deleting a namespace deletes its end of the pair, and so both
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True, timeout=30)


def add_delay(host: Host, delay: str, jitter: str) -> bool:
    """
    Delay everything ``host`` sends by ``delay`` ± ``jitter`` (``tc netem``, e.g. ``5ms``).

    :returns: False when the kernel has no netem qdisc (the caller then delays otherwise).
    """
    argv = [*host.exec_prefix(), 'tc', 'qdisc', 'add', 'dev', host.dev, 'root', 'netem']
    argv += ['delay', delay, jitter]
    return subprocess.run(argv, capture_output=True).returncode == 0
