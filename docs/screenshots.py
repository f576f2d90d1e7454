"""Make the README's screenshots: the demo library in the terminal UI, saved as SVG by Textual.

python docs/screenshots.py        (writes docs/*.svg; needs no network)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aggregator.library import open_library
from aggregator.library.demo import open_demo
from aggregator.tui.app import AggregatorApp

HERE = Path(__file__).resolve().parent


async def shoot() -> None:
    demo = open_demo()
    try:
        with open_library(demo.settings) as library:
            app = AggregatorApp(demo.settings, library=library, refresh_on_start=True, demo=True)
            async with app.run_test(size=(130, 36)) as pilot:
                await app.workers.wait_for_complete()
                await pilot.pause(0.5)
                app.clear_notifications()
                await pilot.press("j", "j", "j")
                await app.workers.wait_for_complete()
                await pilot.pause(0.3)
                app.save_screenshot(str(HERE / "main.svg"))
                await pilot.press("slash", *"night train", "enter")
                await pilot.pause(0.6)
                await app.workers.wait_for_complete()
                await pilot.pause(0.3)
                app.save_screenshot(str(HERE / "search.svg"))
            app = AggregatorApp(demo.settings, library=library)
            async with app.run_test(size=(90, 32)) as pilot:
                await app.workers.wait_for_complete()
                await pilot.pause(0.3)
                await pilot.press("j", "enter")
                await app.workers.wait_for_complete()
                await pilot.pause(0.5)
                app.save_screenshot(str(HERE / "reader.svg"))
    finally:
        demo.close()


if __name__ == "__main__":
    asyncio.run(shoot())
