"""``composition_interfaces.srv`` stand-in: the names launch_ros refers to at import time."""


class _NotAvailable:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError(
            'composition_interfaces is a test stand-in: composable nodes cannot be loaded here'
        )


class LoadNode:
    """Stands in for composition_interfaces/srv/LoadNode (import only)."""

    Request = _NotAvailable
    Response = _NotAvailable
