"""The node graph, described once: which processes run for an arm, backend and namespace.

Two launchers read this description: ``launch/bringup.launch.py`` (ROS 2 launch, on a real
ROS install) and ``robot-touch run`` (plain processes, for pip installs). Keeping the graph
here means both always start the same nodes with the same parameters and remappings.

Pure Python: no rclpy or launch import.
"""
from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

from robot_touch.paths import PACKAGE  # noqa: F401 - the package whose lib/ holds every executable

BACKENDS = ("virtual", "serial", "sim", "gazebo")
#: What teleop publishes (its parameter ``output``): position commands or trajectories.
OUTPUTS = ("position", "trajectory")


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the graph.

    Attributes:
        name: the ROS node name (or a label for non-ROS helpers such as the virtual arm).
        executable: the console script / ``ros2 run robot_touch <executable>`` name. A
            launcher resolves it in the package (``<prefix>/lib/robot_touch/<executable>``
            after ``colcon build``), never on PATH, where a colcon install does not put it.
        module: the Python module whose ``main()`` our own runner calls.
        parameters: ROS parameters (node parameters) by name.
        arguments: extra command-line arguments (non-ROS helpers only).
        ros_node: True for rclpy nodes (they get ``--ros-args`` with parameters/namespace).
        needs_display: the process opens a window (touch UI).
        required: when it exits, the whole graph shuts down.
        ready_prefix: our runner waits for an output line starting with this before it
            starts the next process ("" = don't wait).
    """

    name: str
    executable: str
    module: str
    parameters: dict[str, Any] = field(default_factory=dict)
    arguments: tuple[str, ...] = ()
    ros_node: bool = True
    needs_display: bool = False
    required: bool = True
    ready_prefix: str = ""


@dataclass(frozen=True)
class GraphConfig:
    """What the user asked for (launch arguments / `robot-touch run` flags)."""

    arm: str = "so101"
    backend: str = "virtual"
    port: str = ""
    ui: bool = True
    namespace: str = ""
    demo: bool = False
    demo_out: str = "out"
    control_rate: float = 100.0
    virtual_link: str = ""
    output: str = "position"
    #: The remote gateway (tablets): on/off, port, listen address, plain ws (not advised).
    remote: bool = False
    remote_port: int = 9090
    remote_bind: str = "::"
    remote_insecure: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        if self.backend == "serial" and not self.port:
            raise ValueError("backend 'serial' needs a port (e.g. port:=/dev/ttyUSB0)")
        if not 0 <= self.remote_port <= 65535:
            raise ValueError(f"remote port must be 0..65535, got {self.remote_port}")
        if self.namespace and not all(part.isidentifier() for part in self.namespace.strip("/").split("/")):
            raise ValueError(f"namespace {self.namespace!r} is not a valid ROS namespace")


def default_virtual_link(namespace: str = "") -> str:
    """Where the virtual arm's pty symlink goes, unique per namespace and user."""
    label = namespace.strip("/").replace("/", "_") or "default"
    return os.path.join(tempfile.gettempdir(), f"robot_touch_{os.getuid()}_{label}.tty")


def describe(config: GraphConfig) -> list[ProcessSpec]:
    """The processes for ``config``, in start order (hardware first, UI last)."""
    specs: list[ProcessSpec] = []
    if config.backend in ("virtual", "serial"):
        port = config.port
        if config.backend == "virtual":
            port = config.virtual_link or default_virtual_link(config.namespace)
            specs.append(
                ProcessSpec(
                    name="virtual_arm",
                    executable="robot-touch",
                    module="robot_touch.cli.main",
                    arguments=("virtual-arm", "--arm", config.arm, "--link", port),
                    ros_node=False,
                    ready_prefix="PORT ",
                )
            )
        specs.append(
            ProcessSpec(
                name="serial_bridge",
                executable="serial_bridge",
                module="robot_touch.nodes.serial_bridge",
                parameters={"arm": config.arm, "port": port, "rate": config.control_rate},
            )
        )
    elif config.backend == "sim":
        specs.append(
            ProcessSpec(name="sim_arm", executable="sim_arm", module="robot_touch.nodes.sim_arm", parameters={"arm": config.arm})
        )
    # backend "gazebo": the hardware is gz_ros2_control, started by launch/gazebo.launch.py.
    specs.append(
        ProcessSpec(
            name="teleop",
            executable="teleop",
            module="robot_touch.nodes.teleop",
            parameters={"arm": config.arm, "rate": config.control_rate, "output": config.output},
        )
    )
    if config.remote:
        specs.append(gateway_spec(config))
    if config.demo:
        specs.append(
            ProcessSpec(
                name="recorder",
                executable="recorder",
                module="robot_touch.nodes.recorder",
                parameters={"arm": config.arm, "out_dir": config.demo_out},
                required=False,
            )
        )
    if config.ui:
        specs.append(
            ProcessSpec(
                name="touch_ui",
                executable="touch_ui",
                module="robot_touch.nodes.touch_ui",
                parameters={"arm": config.arm, "backend": config.backend}
                | ({"demo": True, "demo_out": config.demo_out} if config.demo else {}),
                needs_display=True,
            )
        )
    return specs


def gateway_spec(config: GraphConfig) -> ProcessSpec:
    """The remote gateway (rosbridge v2 over wss) for ``config``'s arm."""
    return ProcessSpec(
        name="gateway",
        executable="gateway",
        module="robot_touch.nodes.gateway",
        parameters={
            "arm": config.arm,
            "port": config.remote_port,
            "bind": config.remote_bind,
            "insecure": config.remote_insecure,
            # On Gazebo robot_state_publisher publishes robot_description already.
            "publish_description": config.backend != "gazebo",
        },
        ready_prefix="GATEWAY ",
    )


def command_line(spec: ProcessSpec, namespace: str = "", python: str | None = None) -> list[str]:
    """The argv that starts ``spec`` as a plain process (our runner; no ROS launch)."""
    # `-c` calls the module's main() (the console-script entry point) so no module needs a
    # __main__ block; sys.argv then holds exactly the arguments below.
    launcher = f"import sys; from {spec.module} import main; sys.exit(main())"
    argv = [python or sys.executable, "-c", launcher, *spec.arguments]
    if spec.ros_node:
        argv += ["--ros-args", "-r", f"__node:={spec.name}"]
        if namespace:
            argv += ["-r", f"__ns:=/{namespace.strip('/')}"]
        for key, value in spec.parameters.items():
            argv += ["-p", f"{key}:={_param_text(value)}"]
    return argv


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # YAML-quote strings so values such as "on" or "1" stay strings.
        return "'" + value.replace("'", "''") + "'"
    return repr(value)
