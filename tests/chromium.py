"""Debian's headless Chromium as the browser tests start it: no sandbox (root), no GPU, and
none of the background connections that this machine's closed network refuses."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
QUIET_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
