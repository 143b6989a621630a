"""``python -m clearing`` is the ``farebridge`` command."""

from clearing.cli import main

main()
