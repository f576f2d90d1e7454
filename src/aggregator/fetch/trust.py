"""The CA certificates a run trusts, loaded once, off the event loop."""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import threading
from concurrent.futures import Future


class Trust:
    """A client TLS context as httpx would build it, whose CA certificates load once, on a
    thread, when first wanted.

    Loading the CA bundle costs ~30 ms, and a run whose sources are all plain http needs
    none. OpenSSL consults the store at each handshake, so certificates loaded after the
    client was made are used by every later connection.
    """

    def __init__(self) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies hostnames and chains
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            self.context.keylog_filename = keylog  # as ssl.create_default_context does
        self._loaded: Future[None] | None = None

    def load_soon(self) -> None:
        """Begin loading (OpenSSL reads the bundle outside the GIL, so this overlaps whatever
        the run does meanwhile): certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR from the
        environment, as httpx would."""
        if self._loaded is not None:
            return
        future: Future[None] = Future()
        context = self.context

        def load() -> None:
            try:
                if os.environ.get("SSL_CERT_FILE"):
                    context.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
                elif os.environ.get("SSL_CERT_DIR"):
                    context.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
                else:
                    import certifi

                    context.load_verify_locations(cafile=certifi.where())
                future.set_result(None)
            except BaseException as exc:  # handed to whoever waits for it
                future.set_exception(exc)

        self._loaded = future
        threading.Thread(target=load, name="aggregator-tls", daemon=True).start()

    async def ready(self) -> None:
        """The certificates, loaded; raises what loading them raised."""
        self.load_soon()
        assert self._loaded is not None
        await asyncio.wrap_future(self._loaded)
