"""Encode one AVIF under a hard CPU-time limit; run as a script by ``mediaforge.imaging.avif``.

    python _avif_child.py SOURCE.v OUTPUT.avif QUALITY EFFORT TUNE KEEP CPU_SECONDS

Kept free of mediaforge imports so it starts in a fraction of a second. The kernel enforces the
limit: past it the process gets SIGXCPU and dies, and the caller falls back to another format.
"""

import math
import resource
import sys


def main(argv: list[str]) -> None:
    source, output, quality, effort, tune, keep, limit = argv
    seconds = max(1, math.ceil(float(limit)))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    import pyvips  # type: ignore[import-untyped]  # no py.typed marker

    image = pyvips.Image.new_from_file(source)
    image.heifsave(output, compression="av1", Q=int(quality), effort=int(effort), tune=tune, keep=int(keep))


if __name__ == "__main__":
    main(sys.argv[1:])
