"""`python -m webmon`: the same as the `webmon` command."""

from webmon.cli import main

raise SystemExit(main())
