"""PostgreSQL advisory lock keys that webmon's processes agree on."""

# Taken by every migration runner, so two never interleave.
MIGRATION = 0x7765626D6F6E  # "webmon"
# Taken by the scheduler that does maintenance; the others skip it.
MAINTENANCE = 0x7765626D6F6E01
# Shared by each writer batch, exclusive while maintenance moves the rollup mark.
ROLLUP = 0x7765626D6F6E02
