"""
Stand-in for controller_manager ``spawner``.

Parses its arguments with the options of the real one (Jazzy/Kilted native form: controller names,
-c, -p/--param-file, --inactive, ...; an option it does not know fails as argparse would), records
them with the parameter files' content and the controller manager it would talk to (relative names
resolve in its own namespace), and exits 0 as the real one does after spawning.
"""

import argparse
import sys

from standin_record import Record

record = Record('spawner')
parser = argparse.ArgumentParser(prog='spawner')
parser.add_argument('controller_names', nargs='+')
parser.add_argument('-c', '--controller-manager', default='controller_manager')
parser.add_argument('-p', '--param-file', action='append', default=[])
parser.add_argument('-n', '--namespace')
parser.add_argument('--load-only', action='store_true')
parser.add_argument('--inactive', action='store_true')
parser.add_argument('-u', '--unload-on-kill', action='store_true')
parser.add_argument('--controller-manager-timeout', type=float, default=0.0)
parser.add_argument('--switch-timeout', type=float, default=5.0)
parser.add_argument('--service-call-timeout', type=float, default=10.0)
parser.add_argument('--activate-as-group', action='store_true')
parser.add_argument('--switch-asap', action=argparse.BooleanOptionalAction, default=True)
parser.add_argument('--controller-ros-args', action='append')
try:
    args = parser.parse_args(record.data['args'])
except SystemExit as exc:
    sys.exit(record.finish(int(exc.code or 2)))
namespace = record.data['ros']['namespace'].rstrip('/')
manager = args.controller_manager
record.data.update(
    controllers=args.controller_names,
    inactive=args.inactive,
    param_files=args.param_file,
    controller_manager=manager if manager.startswith('/') else f'{namespace}/{manager}',
)
sys.exit(record.finish(0))
