"""
The remote gateway.

Rosbridge protocol v2 over a secure WebSocket, for tablets and other non-ROS clients.

Pure parts (no rclpy, no sockets): :mod:`.convert` (JSON <-> ROS messages from the message
classes' own introspection), :mod:`.policy` (allowlist, caps), :mod:`.lease` (one operator at
a time), :mod:`.auth` (rosauth MAC, tokens), :mod:`.session` (the protocol, one client at a
time) and :mod:`.core` (every client, the lease, the subscriptions). :mod:`.tls` makes and
reads the certificate; :mod:`.server` is the WebSocket server; the rclpy side is the node
:mod:`robot_touch.nodes.gateway`.
"""
