"""
Protocol name → backend class, imported only when asked for.

Built-in backends are listed here as "module:Class" strings (as python-can's BACKENDS table
does) so that importing the registry costs nothing. Third parties add their own through the
entry-point groups below, e.g. in their setup.py::

    entry_points={"robot_touch.protocols": ["herkulex = my_pkg.herkulex:HerkulexBus"],
                  "robot_touch.devices": ["herkulex = my_pkg.herkulex_sim:HerkulexDevice"]}

A *bus* is the host side (robot_touch.protocols.base.ServoBus); a *device* is the emulated
controller side used by the virtual arm (robot_touch.virtual_arm.device.DeviceEmulator).
Fakes are full citizens: they are looked up exactly like real backends.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from robot_touch.protocols.base import ProtocolError

BUS_GROUP = 'robot_touch.protocols'
DEVICE_GROUP = 'robot_touch.devices'

BUILTIN_BUSES: dict[str, str] = {
    'feetech_sts': 'robot_touch.protocols.feetech_sts:FeetechSTSBus',
    'dynamixel_p2': 'robot_touch.protocols.dynamixel_p2:DynamixelP2Bus',
    'ssc32': 'robot_touch.protocols.ssc32:SSC32Bus',
    'maestro': 'robot_touch.protocols.maestro:MaestroBus',
}

BUILTIN_DEVICES: dict[str, str] = {
    'feetech_sts': 'robot_touch.virtual_arm.feetech_device:FeetechSTSDevice',
    'dynamixel_p2': 'robot_touch.virtual_arm.dynamixel_device:DynamixelP2Device',
    'ssc32': 'robot_touch.virtual_arm.ssc32_device:SSC32Device',
    'maestro': 'robot_touch.virtual_arm.maestro_device:MaestroDevice',
}


def _table(builtin: dict[str, str], group: str) -> dict[str, str]:
    table = dict(builtin)
    for ep in entry_points(group=group):
        table.setdefault(ep.name, ep.value)
    return table


def _load(kind: str, name: str, builtin: dict[str, str], group: str) -> Any:
    table = _table(builtin, group)
    if name not in table:
        raise ProtocolError(f'unknown {kind} protocol {name!r}; known: {", ".join(sorted(table))}')
    module_name, _, attr = table[name].partition(':')
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ProtocolError(
            f'{kind} protocol {name!r} ({table[name]}) cannot be loaded: {exc}'
        ) from None


def bus_names() -> list[str]:
    """Every registered host-side protocol."""
    return sorted(_table(BUILTIN_BUSES, BUS_GROUP))


def device_names() -> list[str]:
    """Every registered emulated device (virtual arm) protocol."""
    return sorted(_table(BUILTIN_DEVICES, DEVICE_GROUP))


def get_bus_class(name: str) -> Any:
    """Return the ServoBus subclass for ``name``; ProtocolError naming the known ones otherwise."""
    return _load('bus', name, BUILTIN_BUSES, BUS_GROUP)


def get_device_class(name: str) -> Any:
    """Return the DeviceEmulator subclass for ``name``; else ProtocolError naming known ones."""
    return _load('device', name, BUILTIN_DEVICES, DEVICE_GROUP)


class PortBusy(ProtocolError):
    """Another process holds the port: one arm has one owner."""


def open_port(url: str, baudrate: int, timeout: float = 0.02) -> Any:
    """
    Open ``url`` with pyserial's URL handlers: /dev/ttyUSB0, socket://, rfc2217://, loop://.

    A device port is opened exclusively (pyserial ``exclusive=True``: an advisory flock), so a
    second bridge, or any program that asks for the port the same way, cannot drive the same
    arm at the same time.

    :raises PortBusy: another process has the port open exclusively.
    :raises ProtocolError: the port cannot be opened, with pyserial's reason.
    """
    import serial

    try:
        return serial.serial_for_url(
            url, baudrate=baudrate, timeout=timeout, write_timeout=1.0, exclusive=True
        )
    except (serial.SerialException, ValueError, OSError) as exc:
        if 'exclusively lock' in str(exc):
            raise PortBusy(
                f'serial port {url!r} is in use by another process '
                '(another robot-touch run or bridge?): '
                'one arm has one owner'
            ) from None
        raise ProtocolError(f'cannot open serial port {url!r}: {exc}') from None
