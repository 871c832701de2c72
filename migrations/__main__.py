"""`python -m migrations`: the same as `webmon-migrate`."""

from migrations.runner import main

raise SystemExit(main())
