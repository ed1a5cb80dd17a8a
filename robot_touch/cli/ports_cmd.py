"""`robot-touch ports`: the serial ports plugged in, with USB ids and what they probably are."""

from __future__ import annotations

import argparse

#: (VID, PID or None for any) → what the adapter usually is on a robot arm
KNOWN_ADAPTERS: dict[tuple[int, int | None], str] = {
    (
        0x1A86,
        0x7523,
    ): 'CH340: Feetech/Waveshare servo driver board (SO-100/SO-101), protocol feetech_sts',
    (0x1A86, 0x55D3): 'CH343: Feetech/Waveshare servo driver board (SO-101), protocol feetech_sts',
    (0x1A86, 0x55D4): 'CH9102: Waveshare servo driver board, protocol feetech_sts',
    (
        0x0403,
        0x6014,
    ): 'ROBOTIS U2D2 (FTDI FT232H): Dynamixel bus (OpenMANIPULATOR-X), protocol dynamixel_p2',
    (
        0x0403,
        0x6001,
    ): 'FTDI FT232R: USB-serial, e.g. Lynxmotion SSC-32U (protocol ssc32) or a TTL adapter',
    (0x0403, 0x6015): 'FTDI FT231X: USB-serial, e.g. Lynxmotion SSC-32U (protocol ssc32)',
    (0x1FFB, None): (
        "Pololu Maestro servo controller, protocol maestro (use the 'Command Port', "
        'usually the first)'
    ),
    (0x10C4, 0xEA60): 'Silicon Labs CP210x: USB-serial adapter',
    (0x0483, 0x5740): 'STM32 virtual COM port, e.g. ROBOTIS OpenCR',
}


def adapter_hint(vid: int | None, pid: int | None) -> str:
    """Return what a USB VID:PID usually is on a robot arm, or "" if unknown."""
    if vid is None:
        return ''
    return KNOWN_ADAPTERS.get((vid, pid)) or KNOWN_ADAPTERS.get((vid, None), '')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--all', action='store_true', help='also list ports without a USB id (built-in UARTs)'
    )


def run(args: argparse.Namespace) -> int:
    from serial.tools import list_ports

    ports = sorted(list_ports.comports(include_links=False), key=lambda p: p.device)
    shown = [p for p in ports if args.all or p.vid is not None]
    if not shown:
        print(
            'no USB serial ports found (is the adapter plugged in? on Linux, are you in the '
            "'dialout' group?)"
        )
        return 1
    for p in shown:
        usb = f'{p.vid:04x}:{p.pid:04x}' if p.vid is not None else '----:----'
        print(
            f'{p.device:24s} {usb}  {p.description}'
            + (f'  serial {p.serial_number}' if p.serial_number else '')
        )
        hint = adapter_hint(p.vid, p.pid)
        if hint:
            print(f'{"":24s} → {hint}')
    print(
        'Stable names: ls -l /dev/serial/by-id/ '
        '(use those with --port so a replug keeps the name).'
    )
    return 0
