"""``python -m flowpoint.cli``: the ``flowpoint`` command without its console script."""

from .app import main

main()
