"""
The integration tier.

Our nodes as real processes over real DDS, serial bridges on real ptys with the virtual arm,
MuJoCo, and whole graphs started by ``robot-touch run``.

Helpers the tiers share live in ``test/support`` (``support.processes``: start a node, probe
the graph over ROS; ``support.graph_run``: a whole run and its leftovers). Fixtures used by one
module stay in that module; fixtures two modules share belong here.
"""
