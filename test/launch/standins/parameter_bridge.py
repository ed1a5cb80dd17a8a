"""Stand-in for ros_gz_bridge ``parameter_bridge``: records its bridge specs and stays up."""

import sys

from standin_record import Record, stay_up

sys.exit(stay_up(Record('parameter_bridge')))
