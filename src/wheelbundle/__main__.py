"""``python -m wheelbundle`` is the ``bundle`` command."""

from wheelbundle.cli import main

raise SystemExit(main())
