"""
Stand-in for ``gz sim`` as ros_gz_sim's gz_sim.launch.py starts it.

Records its arguments and stays up.
"""

import sys

from standin_record import Record, stay_up

sys.exit(stay_up(Record('gz')))
