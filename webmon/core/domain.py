"""`Core`: every aggregate over one pool, as the API, the dashboard and the CLI hold it.

The constructor does no I/O; `open()` opens the pools, `close()` closes them. The read
pool plans its statements once (generic plans) for the hot reads: a page of sites and a
site's uptime, whose optional filters made PostgreSQL plan them anew on every call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.db import AsyncDatabase
from shared.errors import DatabaseError
from shared.netpolicy import TargetPolicy
from shared.sealing import SecretBox
from webmon.core.certificates import Certificates
from webmon.core.channels import Channels
from webmon.core.history import History
from webmon.core.incidents import Incidents
from webmon.core.keys import Keys
from webmon.core.regions import Regions
from webmon.core.results import Results
from webmon.core.site_regions import SiteRegions
from webmon.core.sites import Sites
from webmon.core.status_pages import StatusPages
from webmon.core.status_views import Views
from webmon.core.tasks import TaskLimits, Tasks
from webmon.core.users import Users
from webmon.core.windows import Windows

# What a process that submits no tasks gets (the CLI): the API's defaults.
DEFAULT_LIMITS = TaskLimits(per_minute=60, in_flight=20, start_within_s=60.0)


class Core:
    def __init__(
        self,
        db: AsyncDatabase,
        *,
        policy: TargetPolicy,
        box: SecretBox | None = None,
        reads: AsyncDatabase | None = None,
        limits: TaskLimits = DEFAULT_LIMITS,
    ) -> None:
        self.db = db
        self.reads = reads or db
        self.sites = Sites(db, self.reads, policy, box)
        self.tasks = Tasks(db, policy, limits)
        self.channels = Channels(db, policy, box)
        self.windows = Windows(db)
        self.keys = Keys(db)
        self.users = Users(db, box)
        self.incidents = Incidents(db)
        self.history = History(db, self.reads)
        self.results = Results(db)
        self.status_pages = StatusPages(db)
        self.certificates = Certificates(self.reads)
        self.status_views = Views(self.reads, self.status_pages)
        self.regions = Regions(db, self.reads)
        self.site_regions = SiteRegions(self.reads)

    @classmethod
    def for_url(
        cls,
        url: str,
        *,
        policy: TargetPolicy,
        box: SecretBox | None = None,
        limits: TaskLimits = DEFAULT_LIMITS,
        pool_size: int = 10,
        read_pool_size: int | None = None,
        name: str = "webmon",
    ) -> Core:
        """A core on its own pools; `read_pool_size`: a second pool, with generic plans,
        for the hot reads."""
        db = AsyncDatabase(
            url, min_size=min(2, pool_size), max_size=pool_size, application_name=name
        )
        reads = None
        if read_pool_size is not None:
            reads = AsyncDatabase(
                url, max_size=read_pool_size, application_name=f"{name}-reads", generic_plans=True
            )
        return cls(db, policy=policy, box=box, reads=reads, limits=limits)

    async def open(self) -> None:
        await self.db.open()
        if self.reads is not self.db:
            await self.reads.open()

    async def close(self) -> None:
        """Both pools at once, each within its own bound."""
        if self.reads is self.db:
            await self.db.close()
        else:
            await asyncio.gather(self.reads.close(), self.db.close())

    async def healthy(self) -> bool:
        """Whether PostgreSQL answers."""
        try:
            await self.db.fetchone("SELECT 1")
        except DatabaseError:
            return False
        return True


@asynccontextmanager
async def opened(core: Core) -> AsyncIterator[Core]:
    await core.open()
    try:
        yield core
    finally:
        await core.close()
