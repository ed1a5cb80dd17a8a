"""Command-line interface: `robot-touch <command>`."""
