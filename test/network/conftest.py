"""
The network tier.

What a default run exposes to other hosts (its sockets, and a peer in a second network namespace).
Needs root and iproute2; skips, saying why, elsewhere.
"""
