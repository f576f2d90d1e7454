"""The one API the command line and the terminal UI use.

`open_library(settings)` prepares the data dir, copies the default source list on first run,
opens the store and mirrors the OPML list into it. The OPML file is the truth for *which*
sources there are; the store keeps everything learned about them; the index is derived from
the store. The network and HTML modules load only when a method needs them, so listing
sources or reading an entry starts fast.
"""

from aggregator.library.core import Library, default_opml, markdown_page, open_library

__all__ = ["Library", "default_opml", "markdown_page", "open_library"]
