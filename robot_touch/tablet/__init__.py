"""The touch app on a tablet: the gateway link over roslibpy, the connect screen, pairings."""
