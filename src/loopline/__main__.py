"""Run the command line with ``python -m loopline``."""

from loopline.cli import main

main()
