"""PostgreSQL advisory lock keys that webmon's processes agree on."""

# Taken by every migration runner, so two never interleave.
MIGRATION = 0x7765626D6F6E  # "webmon"
# Taken by the scheduler that does maintenance; the others skip it.
MAINTENANCE = 0x7765626D6F6E01
# Shared by each writer batch, exclusive while maintenance moves the rollup mark.
ROLLUP = 0x7765626D6F6E02
# The class half of the (class, key id) advisory lock that serialises one API key's task
# submissions, so that its limits count every concurrent one. (A 32-bit value: the
# two-integer form of pg_advisory_xact_lock.)
TASK_LIMITS = 0x776D7401
# The class half of the (class, partition) advisory lock a writer takes on each partition
# of a batch with rows of the quorum's path before it reads the states of their slots
# (checker/writer/queries.sql, lock_quorum_partitions). A 32-bit value.
QUORUM = 0x776D7103
# The class half of the (class, hash of the region) advisory lock a writer tries before it
# opens a region's outage: a writer that finds it taken leaves the opening to the one that
# holds it, rather than wait for it while holding its own sites (a 32-bit value).
REGION_OUTAGE = 0x776D7202
