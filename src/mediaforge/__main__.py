from __future__ import annotations

from mediaforge.cli import main

main()
