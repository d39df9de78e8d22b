"""One router per concern; each handler only parses, calls, and raises."""
