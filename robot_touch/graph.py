"""
The node graph, described once: which processes run for an arm, backend and namespace.

Two launchers read this description: ``launch/bringup.launch.py`` (ROS 2 launch, on a real
ROS install) and ``robot-touch run`` (plain processes, for pip installs). Keeping the graph
here means both always start the same nodes with the same parameters and remappings.

Pure Python: no rclpy or launch import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
import sys
import tempfile
from typing import Any

from robot_touch.paths import PACKAGE  # noqa: F401 - the package whose lib/ holds every executable
from robot_touch.ui.controls import ENABLE_MODES
from robot_touch.ui.i18n import LANGUAGES
from robot_touch.ui.sizing import check_dpi, WINDOW_SIZE

BACKENDS = ('virtual', 'serial', 'sim', 'gazebo')
#: What teleop publishes (its parameter ``output``): position commands or trajectories.
OUTPUTS = ('position', 'trajectory')


@dataclass(frozen=True)
class ProcessSpec:
    """
    One process of the graph.

    :ivar name: the ROS node name (or a label for non-ROS helpers such as the virtual arm).
    :ivar executable: the console script / ``ros2 run robot_touch <executable>`` name. A launcher
        resolves it in the package (``<prefix>/lib/robot_touch/<executable>`` after ``colcon
        build``), never on PATH, where a colcon install does not put it.
    :ivar module: the Python module whose ``main()`` our own runner calls.
    :ivar parameters: ROS parameters (node parameters) by name.
    :ivar arguments: extra command-line arguments (non-ROS helpers only).
    :ivar ros_node: True for rclpy nodes (they get ``--ros-args`` with parameters/namespace).
    :ivar needs_display: the process opens a window (touch UI).
    :ivar required: when it exits, the whole graph shuts down.
    :ivar ready_prefix: our runner waits for an output line starting with this before it starts the
        next process ("" = don't wait).
    :ivar layer: what it depends on, for an orderly stop: 0 the device (virtual arm), 1 the
        hardware driver (serial bridge, simulator), 2 what commands or watches the arm (teleop, UI,
        recorder). Higher layers stop first, so the bridge holds the arm after the last command and
        before its port goes away.
    """

    name: str
    executable: str
    module: str
    parameters: dict[str, Any] = field(default_factory=dict)
    arguments: tuple[str, ...] = ()
    ros_node: bool = True
    needs_display: bool = False
    required: bool = True
    ready_prefix: str = ''
    layer: int = 2


#: ProcessSpec.layer values
LAYER_DEVICE, LAYER_HARDWARE, LAYER_CONTROL = 0, 1, 2


#: who can reach the graph over DDS: this host only (default), or the network
NETWORKS = ('local', 'lan')
#: the Fast DDS profile that keeps every transport on this host (installed under config/)
DDS_PROFILE = 'fastdds_localhost.xml'
#: the control rates teleop and the bridge both accept (Hz)
CONTROL_RATE_RANGE = (10.0, 1000.0)
#: GraphConfig field → its `robot-touch run` flag, where the names differ
CLI_FLAGS = {
    'control_rate': '--rate',
    'window_size': '--window-size',
    'enable_mode': '--enable-mode',
}


class ConfigError(ValueError):
    """
    A bad graph setting, said in the syntax of the tool the user typed.

    ``str()`` speaks launch syntax (``port:=/dev/ttyUSB0``); :meth:`for_cli` speaks
    `robot-touch run`'s (``--port /dev/ttyUSB0``).
    """

    def __init__(self, field: str, problem: str, example: str) -> None:
        self.field, self.problem, self.example = field, problem, example
        super().__init__(f'{field} {problem} (e.g. {field}:={example})')

    def for_cli(self) -> str:
        flag = CLI_FLAGS.get(self.field, '--' + self.field.replace('_', '-'))
        return f'{flag} {self.problem} (e.g. {flag} {self.example})'


@dataclass(frozen=True)
class GraphConfig:
    """What the user asked for (launch arguments / `robot-touch run` flags)."""

    arm: str = 'so101'
    backend: str = 'virtual'
    port: str = ''
    ui: bool = True
    namespace: str = ''
    demo: bool = False
    demo_out: str = 'out'
    control_rate: float = 100.0
    network: str = 'local'
    #: touch UI settings ("" / False: the node's default, config/touch_ui.yaml)
    language: str = ''
    enable_mode: str = ''
    window_size: str = ''
    fullscreen: bool = False
    #: the panel's pixels per inch (0: as the screen reports)
    dpi: float = 0.0
    virtual_link: str = ''
    output: str = 'position'
    #: The remote gateway (tablets): on/off, port, listen address, plain ws (not advised).
    remote: bool = False
    remote_port: int = 9090
    remote_bind: str = '::'
    remote_insecure: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            problem = f'must be one of {", ".join(BACKENDS)}, got {self.backend!r}'
            raise ConfigError('backend', problem, BACKENDS[0])
        if self.output not in OUTPUTS:
            problem = f'must be one of {", ".join(OUTPUTS)}, got {self.output!r}'
            raise ConfigError('output', problem, OUTPUTS[0])
        if self.backend == 'serial' and not self.port:
            raise ConfigError(
                'port',
                'is required: backend serial needs a port '
                '(`robot-touch ports` lists the adapters)',
                '/dev/ttyUSB0',
            )
        if not 0 <= self.remote_port <= 65535:
            raise ConfigError('remote_port', f'must be 0..65535, got {self.remote_port}', '9090')
        if self.namespace and not all(
            part.isidentifier() for part in self.namespace.strip('/').split('/')
        ):
            problem = f'{self.namespace!r} is not a valid ROS namespace'
            raise ConfigError('namespace', problem, 'arm1')
        low, high = CONTROL_RATE_RANGE
        if not (isinstance(self.control_rate, (int, float)) and low <= self.control_rate <= high):
            problem = f'must be between {low:g} and {high:g} Hz, got {self.control_rate:g}'
            raise ConfigError('control_rate', problem, '100')
        if self.network not in NETWORKS:
            problem = f'must be one of {", ".join(NETWORKS)}, got {self.network!r}'
            raise ConfigError('network', problem, 'local')
        for name, allowed in (('language', tuple(LANGUAGES)), ('enable_mode', ENABLE_MODES)):
            value = getattr(self, name)
            if value and value not in allowed:
                problem = f'must be one of {", ".join(allowed)}, got {value!r}'
                raise ConfigError(name, problem, allowed[0])
        if self.window_size and not WINDOW_SIZE.fullmatch(self.window_size):
            problem = f'must be WIDTHxHEIGHT in pixels, got {self.window_size!r}'
            raise ConfigError('window_size', problem, '800x1280')
        dpi_problem = check_dpi(self.dpi)
        if dpi_problem is not None:
            raise ConfigError('dpi', dpi_problem, '133')

    def ui_parameters(self) -> dict[str, Any]:
        """Return the touch_ui parameters this configuration sets (only those given)."""
        given = {
            'language': self.language,
            'enable_mode': self.enable_mode,
            'window_size': self.window_size,
            'fullscreen': self.fullscreen,
            'dpi': float(self.dpi),
        }
        return {key: value for key, value in given.items() if value}


def default_virtual_link(namespace: str = '', domain_id: str | None = None) -> str:
    """
    Where the virtual arm's pty symlink goes.

    One per user, ROS domain and namespace, the same names that make one arm's graph (two runs for
    one arm find the same link, and the second virtual arm refuses it).
    """
    label = namespace.strip('/').replace('/', '_') or 'default'
    domain = domain_id if domain_id is not None else os.environ.get('ROS_DOMAIN_ID', '').strip()
    name = f'robot_touch_{os.getuid()}_d{domain or "0"}_{label}.tty'
    return os.path.join(tempfile.gettempdir(), name)


def dds_environment(
    network: str, share: str | os.PathLike[str] | None = None
) -> dict[str, str | None]:
    """
    Environment for every process of the graph: who can reach it over DDS.

    ``local`` (the default): the Fast DDS profile ``config/fastdds_localhost.xml`` binds every
    transport to loopback and shared memory, with unicast discovery on 127.0.0.1 only; ROS's
    own discovery settings are left to that profile (SYSTEM_DEFAULT: rmw_fastrtps's LOCALHOST
    mode adds a UDP transport of its own whose sockets bind 0.0.0.0 and the LAN address), and
    static peers are dropped. ``lan``: discovery on the subnet, no profile of ours.

    :returns: variable → value; None means "remove it from the environment".
    """
    if network not in NETWORKS:
        raise ValueError(f'network must be one of {", ".join(NETWORKS)}, got {network!r}')
    if network == 'lan':
        return {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'}
    if share is None:
        from robot_touch.paths import share_dir

        share = share_dir()
    return {
        'FASTDDS_DEFAULT_PROFILES_FILE': os.path.join(str(share), 'config', DDS_PROFILE),
        'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SYSTEM_DEFAULT',
        'ROS_STATIC_PEERS': None,
        'ROS_LOCALHOST_ONLY': None,
        'FASTDDS_BUILTIN_TRANSPORTS': None,
    }


#: said wherever the graph is opened to the network (`--network lan`, `network:=lan`)
LAN_WARNING = (
    "network lan: this arm's ROS graph is reachable from the network. DDS here has no "
    'authentication: anyone on the network can see it, move the arm, release its e-stop and '
    'switch its torque off. For access from other machines use SROS2 on a full ROS install, '
    'or the secured remote link.'
)
#: RMW implementations the loopback profile applies to
FASTDDS_RMWS = ('', 'rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp')


def check_rmw(network: str, rmw: str | None = None) -> None:
    """
    Check that the RMW is Fast DDS when ``network`` is local: the lock is a Fast DDS profile.

    :raises ConfigError: ``network`` local with an RMW other than Fast DDS.
    """
    rmw = (os.environ.get('RMW_IMPLEMENTATION', '') if rmw is None else rmw).strip()
    if network == 'local' and rmw not in FASTDDS_RMWS:
        raise ConfigError(
            'network',
            f'is local (the default), which keeps the graph on this host with a Fast DDS profile: '
            f'RMW_IMPLEMENTATION={rmw} is not Fast DDS; unset it, '
            'or open the graph to the network on purpose',
            'lan',
        )


def use_network(network: str) -> str:
    """
    Set this process's DDS environment for ``network`` (before rclpy starts).

    Returns the warning to show ("" for local). Raises ConfigError for an RMW the profile cannot
    bind.
    """
    check_rmw(network)
    apply_environment(os.environ, dds_environment(network))
    return LAN_WARNING if network == 'lan' else ''


def apply_environment(env: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """``env`` with ``changes`` applied (None removes a variable); returns ``env``."""
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def describe(config: GraphConfig) -> list[ProcessSpec]:
    """Return the processes for ``config``, in start order (hardware first, UI last)."""
    specs: list[ProcessSpec] = []
    if config.backend in ('virtual', 'serial'):
        port = config.port
        if config.backend == 'virtual':
            port = config.virtual_link or default_virtual_link(config.namespace)
            specs.append(
                ProcessSpec(
                    name='virtual_arm',
                    executable='robot-touch',
                    module='robot_touch.cli.main',
                    arguments=('virtual-arm', '--arm', config.arm, '--link', port),
                    ros_node=False,
                    ready_prefix='PORT ',
                    layer=LAYER_DEVICE,
                )
            )
        specs.append(
            ProcessSpec(
                name='serial_bridge',
                executable='serial_bridge',
                module='robot_touch.nodes.serial_bridge',
                parameters={'arm': config.arm, 'port': port, 'rate': config.control_rate}
                # The virtual arm emulates the profile: the bridge must not apply the real
                # arm's calibration file from the user's data folder to it.
                | ({'calibration_file': 'profile'} if config.backend == 'virtual' else {}),
                layer=LAYER_HARDWARE,
            )
        )
    elif config.backend == 'sim':
        specs.append(
            ProcessSpec(
                name='sim_arm',
                executable='sim_arm',
                module='robot_touch.nodes.sim_arm',
                parameters={'arm': config.arm},
                layer=LAYER_HARDWARE,
            )
        )
    # backend "gazebo": the hardware is gz_ros2_control, started by launch/gazebo.launch.py.
    specs.append(
        ProcessSpec(
            name='teleop',
            executable='teleop',
            module='robot_touch.nodes.teleop',
            parameters={'arm': config.arm, 'rate': config.control_rate, 'output': config.output},
        )
    )
    if config.remote:
        specs.append(gateway_spec(config))
    if config.demo:
        specs.append(
            ProcessSpec(
                name='recorder',
                executable='recorder',
                module='robot_touch.nodes.recorder',
                parameters={'arm': config.arm, 'out_dir': config.demo_out},
                required=False,
            )
        )
    if config.ui:
        specs.append(
            ProcessSpec(
                name='touch_ui',
                executable='touch_ui',
                module='robot_touch.nodes.touch_ui',
                parameters={'arm': config.arm}
                | config.ui_parameters()
                | ({'demo': True, 'demo_out': config.demo_out} if config.demo else {}),
                needs_display=True,
            )
        )
    return specs


def gateway_spec(config: GraphConfig) -> ProcessSpec:
    """Return the remote gateway (rosbridge v2 over wss) for ``config``'s arm."""
    return ProcessSpec(
        name='gateway',
        executable='gateway',
        module='robot_touch.nodes.gateway',
        parameters={
            'arm': config.arm,
            'port': config.remote_port,
            'bind': config.remote_bind,
            'insecure': config.remote_insecure,
            # On Gazebo robot_state_publisher publishes robot_description already.
            'publish_description': config.backend != 'gazebo',
        },
        ready_prefix='GATEWAY ',
    )


def command_line(spec: ProcessSpec, namespace: str = '', python: str | None = None) -> list[str]:
    """Return the argv that starts ``spec`` as a plain process (our runner; no ROS launch)."""
    # `-c` calls the module's main() (the console-script entry point) so no module needs a
    # __main__ block; sys.argv then holds exactly the arguments below. die_with_parent() first:
    # the child ends with the runner however the runner ends (robot_touch/lifecycle.py).
    launcher = (
        'import sys; from robot_touch.lifecycle import die_with_parent; die_with_parent(); '
        f'from {spec.module} import main; sys.exit(main())'
    )
    argv = [python or sys.executable, '-c', launcher, *spec.arguments]
    if spec.ros_node:
        argv += ['--ros-args', '-r', f'__node:={spec.name}']
        if namespace:
            argv += ['-r', f'__ns:=/{namespace.strip("/")}']
        for key, value in spec.parameters.items():
            argv += ['-p', f'{key}:={_param_text(value)}']
    return argv


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        # YAML-quote strings so values such as "on" or "1" stay strings.
        return "'" + value.replace("'", "''") + "'"
    return repr(value)
