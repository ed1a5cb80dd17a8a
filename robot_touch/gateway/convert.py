"""
JSON <-> ROS 2 messages, for any message or service type, by the classes' own introspection.

The generated classes describe themselves (``SLOT_TYPES``: rosidl_parser type objects;
``get_fields_and_field_types()``).

Why written here: ``rosidl_runtime_py`` (set_message_fields / message_to_ordereddict) is not on
PyPI, so a pip install of the ROS 2 wheels does not have it, and rosbridge's own converter is
not a library we can install either. This module is the small generic part both do: walk the
type, check every value against it, build the message. No per-type code.

The JSON form follows rosbridge v2: messages are objects keyed by field name, ``uint8[]`` /
``char[]`` / ``octet[]`` are base64 strings (a list of integers is accepted too), times are
``{"sec", "nanosec"}``. Incoming values are checked strictly (the generated setters check
nothing unless ``ROS_PYTHON_CHECK_FIELDS=1``): integers in their type's range, floats finite
(and within float32 for ``float``), strings within their bound, arrays of their size, no
unknown fields. Missing fields keep their defaults. Outgoing non-finite floats become ``null``
(JSON has no NaN).

Pure Python: the message packages and rosidl_parser, no rclpy.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import math
import re
from typing import Any, Callable

from rosidl_parser.definition import (
    AbstractGenericString,
    AbstractNestedType,
    AbstractSequence,
    Array,
    BasicType,
    BoundedSequence,
    NamespacedType,
)

#: ``pkg/msg/Name``, ``pkg/srv/Name`` or the short ``pkg/Name`` (rosbridge accepts both).
_TYPE_NAME = re.compile(r'^([a-z][a-z0-9_]*)/(?:(msg|srv)/)?([A-Z][A-Za-z0-9]*)$')

_INT_RANGES = {
    'int8': (-(2**7), 2**7 - 1),
    'uint8': (0, 2**8 - 1),
    'int16': (-(2**15), 2**15 - 1),
    'uint16': (0, 2**16 - 1),
    'int32': (-(2**31), 2**31 - 1),
    'uint32': (0, 2**32 - 1),
    'int64': (-(2**63), 2**63 - 1),
    'uint64': (0, 2**64 - 1),
    'short': (-(2**15), 2**15 - 1),
    'unsigned short': (0, 2**16 - 1),
    'long': (-(2**31), 2**31 - 1),
    'unsigned long': (0, 2**32 - 1),
    'long long': (-(2**63), 2**63 - 1),
    'unsigned long long': (0, 2**64 - 1),
    'char': (0, 255),  # rosidl's Python char is an int 0..255
}
_FLOAT32_MAX = 3.4028234663852886e38
_BYTE_TYPES = ('uint8', 'char', 'octet')


class ConversionError(ValueError):
    """A JSON value that does not fit the message type; ``path`` names the field."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path or '(message)'
        self.reason = reason
        super().__init__(f'{self.path}: {reason}')


def canonical_type(name: str, kind: str = 'msg') -> str:
    """``geometry_msgs/PoseStamped`` → ``geometry_msgs/msg/PoseStamped`` (ValueError if bad)."""
    match = _TYPE_NAME.match(name or '')
    if not match:
        raise ValueError(f'not a ROS type name: {name!r} (expected package/{kind}/Name)')
    package, given_kind, type_name = match.groups()
    if given_kind is not None and given_kind != kind:
        raise ValueError(f'{name!r} is a {given_kind} type, a {kind} type is needed here')
    return f'{package}/{kind}/{type_name}'


def load_type(name: str, kind: str = 'msg') -> type:
    """Return the generated class of ``name``: ``pkg/msg/Name`` (or ``pkg/srv/Name``, ``srv``)."""
    package, kind, type_name = canonical_type(name, kind).split('/')
    try:
        module = importlib.import_module(f'{package}.{kind}')
        return getattr(module, type_name)
    except (ImportError, AttributeError):
        raise ValueError(f'unknown type {name!r} (is the {package} package installed?)') from None


def _nested_class(t: NamespacedType) -> type:
    module = importlib.import_module('.'.join(t.namespaces))
    return getattr(module, t.name)


def _fields(cls: type) -> list[tuple[str, Any]]:
    # get_fields_and_field_types() keeps the declaration order, as SLOT_TYPES does.
    cached = cls.__dict__.get('_robot_touch_fields')
    if cached is None:
        cached = list(zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES))
        setattr(cls, '_robot_touch_fields', cached)
    return cached


# ---------------------------------------------------------------------------- JSON → ROS


def to_ros(
    cls: type, data: Any, path: str = '', stamp_now: Callable[[], Any] | None = None
) -> Any:
    """
    Build a ``cls`` message from ``data`` (a JSON object), checking every field.

    :param cls: a generated message (or service request/response) class.
    :param data: the decoded JSON object; missing fields keep their defaults.
    :param path: where ``data`` sits (for error messages).
    :param stamp_now: rosbridge's header rule: when given and the message's top-level ``header``
        (std_msgs/Header) or its ``stamp`` is missing, the stamp is ``stamp_now()`` (a
        builtin_interfaces/Time).

    :raises ConversionError: naming the field and what is wrong with it.
    """
    if not isinstance(data, dict):
        raise ConversionError(path, f'expected an object for {cls.__name__}, got {_kind(data)}')
    fields = _fields(cls)
    known = {name for name, _t in fields}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ConversionError(path, f'{cls.__name__} has no field {", ".join(unknown)}')
    msg = cls()
    for name, slot in fields:
        if name in data:
            setattr(msg, name, _value(slot, data[name], f'{path}.{name}' if path else name))
    if stamp_now is not None and 'header' in known and _is_header(dict(fields)['header']):
        header = data.get('header')
        if not isinstance(header, dict) or 'stamp' not in header:
            msg.header.stamp = stamp_now()
    return msg


def _is_header(slot: Any) -> bool:
    return (
        isinstance(slot, NamespacedType)
        and slot.namespaces == ['std_msgs', 'msg']
        and slot.name == 'Header'
    )


def _value(slot: Any, value: Any, path: str) -> Any:
    if isinstance(slot, BasicType):
        return _basic(slot.typename, value, path)
    if isinstance(slot, AbstractGenericString):
        if not isinstance(value, str):
            raise ConversionError(path, f'expected a string, got {_kind(value)}')
        limit = getattr(slot, 'maximum_size', None)
        if limit is not None and len(value) > limit:
            raise ConversionError(path, f'longer than its bound of {limit} characters')
        return value
    if isinstance(slot, NamespacedType):
        return to_ros(_nested_class(slot), value, path)
    if isinstance(slot, AbstractNestedType):
        return _sequence(slot, value, path)
    raise ConversionError(
        path, f'unsupported field type {type(slot).__name__}'
    )  # pragma: no cover


def _basic(typename: str, value: Any, path: str) -> Any:
    if typename == 'boolean':
        if not isinstance(value, bool):
            raise ConversionError(path, f'expected true or false, got {_kind(value)}')
        return value
    if typename in ('float', 'double', 'long double'):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConversionError(path, f'expected a number, got {_kind(value)}')
        try:
            number = float(value)
        except OverflowError:
            raise ConversionError(path, 'number too large') from None
        if not math.isfinite(number):
            raise ConversionError(path, 'not a finite number')
        if typename == 'float' and abs(number) > _FLOAT32_MAX:
            raise ConversionError(path, 'outside the float32 range')
        return number
    if typename == 'octet':
        return bytes([_integer(value, 0, 255, path)])
    if typename in _INT_RANGES:
        return _integer(value, *_INT_RANGES[typename], path)
    raise ConversionError(path, f'unsupported basic type {typename}')  # pragma: no cover


def _integer(value: Any, low: int, high: int, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConversionError(path, f'expected an integer, got {_kind(value)}')
    if not low <= value <= high:
        raise ConversionError(path, f'{value} is outside {low}..{high}')
    return value


def _sequence(slot: AbstractNestedType, value: Any, path: str) -> Any:
    inner = slot.value_type
    is_bytes = isinstance(inner, BasicType) and inner.typename in _BYTE_TYPES
    if is_bytes and isinstance(value, str):
        try:
            value = list(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise ConversionError(path, 'not valid base64') from None
    if not isinstance(value, list):
        raise ConversionError(path, f'expected a list, got {_kind(value)}')
    if isinstance(slot, Array) and len(value) != slot.size:
        raise ConversionError(path, f'expected exactly {slot.size} items, got {len(value)}')
    if isinstance(slot, BoundedSequence) and len(value) > slot.maximum_size:
        raise ConversionError(path, f'more than its bound of {slot.maximum_size} items')
    # octet items come back as 1-byte bytes objects, as the generated class keeps them; the
    # generated setter turns numeric lists into array.array / numpy arrays.
    return [_value(inner, item, f'{path}[{i}]') for i, item in enumerate(value)]


# ---------------------------------------------------------------------------- ROS → JSON


def to_json(msg: Any) -> dict[str, Any]:
    """Return the JSON object (plain dicts, lists, numbers, strings) of a message."""
    return {name: _out(slot, getattr(msg, name)) for name, slot in _fields(type(msg))}


def _out(slot: Any, value: Any) -> Any:
    if isinstance(slot, BasicType):
        return _out_basic(slot.typename, value)
    if isinstance(slot, AbstractGenericString):
        return value
    if isinstance(slot, NamespacedType):
        return to_json(value)
    if isinstance(slot, (AbstractSequence, Array)):
        inner = slot.value_type
        if isinstance(inner, BasicType) and inner.typename in _BYTE_TYPES:
            raw = b''.join(value) if inner.typename == 'octet' else bytes(int(v) for v in value)
            return base64.b64encode(raw).decode('ascii')
        if isinstance(inner, BasicType):
            return [_out_basic(inner.typename, v) for v in value]
        return [_out(inner, v) for v in value]
    return value  # pragma: no cover - every rosidl field type is handled above


def _out_basic(typename: str, value: Any) -> Any:
    if typename in ('float', 'double', 'long double'):
        number = float(value)
        return number if math.isfinite(number) else None
    if typename == 'octet':
        return value[0] if isinstance(value, (bytes, bytearray)) else int(value)
    if typename == 'boolean':
        return bool(value)
    return int(value)


def _kind(value: Any) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, list):
        return 'a list'
    if isinstance(value, dict):
        return 'an object'
    return type(value).__name__
