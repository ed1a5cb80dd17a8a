"""
Every node's parameters are declared with a description and documented in its config file.

config/<node>.yaml documents them with the same defaults.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from robot_touch.paths import share_dir
import yaml

NODES = {
    'teleop': 'TeleopNode',
    'serial_bridge': 'SerialBridgeNode',
    'sim_arm': 'SimArmNode',
    'touch_ui': 'TouchUiNode',
    'recorder': 'RecorderNode',
    'gateway': 'GatewayNode',
}

# Builds the node (no spinning), prints its declared parameters and descriptions as JSON, and
# leaves at once (os._exit: a node may have started worker threads in its constructor).
PROBE = """
import json, os, sys
import rclpy
from robot_touch.nodes.{module} import {cls}
rclpy.init(args=[])
node = {cls}()
out = {{}}
for name, param in node._parameters.items():
    if name in ("use_sim_time", "start_type_description_service"):  # rclpy's own
        continue
    out[name] = {{"value": param.value, "description": node.describe_parameter(name).description}}
print("PARAMS " + json.dumps(out), flush=True)
os._exit(0)
"""


@pytest.mark.ros
@pytest.mark.timeout(90)
@pytest.mark.parametrize('module', list(NODES), ids=list(NODES))
def test_config_yaml_matches_the_declared_parameters(module: str) -> None:
    result = subprocess.run(
        [sys.executable, '-c', PROBE.format(module=module, cls=NODES[module])],
        capture_output=True,
        text=True,
        timeout=90,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith('PARAMS ')), None)
    assert line is not None, result.stderr[-2000:]
    declared = json.loads(line[len('PARAMS '):])
    text = (share_dir() / 'config' / f'{module}.yaml').read_text()
    documented = yaml.safe_load(text)[module]['ros__parameters']
    # A parameter with no default (typed, unset) is documented as a commented-out example.
    unset = {
        name for name, info in declared.items() if info['value'] is None and f'# {name}:' in text
    }
    undocumented = sorted(set(declared) - set(documented) - unset)
    assert not undocumented, f'declared but not in config/{module}.yaml: {undocumented}'
    unknown = sorted(set(documented) - set(declared))
    assert not unknown, f'in config/{module}.yaml but not declared: {unknown}'
    for name, info in declared.items():
        assert info['description'].strip(), f'{module}.{name} has no description'
        if name in unset:
            continue
        default = documented[name]
        value = info['value']
        if isinstance(value, list) and isinstance(default, list):
            assert [float(v) for v in value] == pytest.approx([float(v) for v in default]), name
        else:
            assert value == default, (
                f'{module}.{name}: declared default {value!r}, config says {default!r}'
            )
