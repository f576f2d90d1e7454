"""The terminal UI: a Textual app over the same `Library` the command line uses.

Nothing here touches the network or a slow query on the event loop: thread workers call the
library and post typed messages back (`messages.py`).
"""
