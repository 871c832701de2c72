"""The messages on the task and result topics: one msgspec `Struct` each, from which the
encoder, the decoder and (for a result) the writer's COPY row all come.

- `CheckTask` (tasks topics): one check of one site for one slot (`tasks`);
- `CheckResult` (results topic): what the check found, the `check_results` row (`results`);
- `TaskUpdate` (on-demand results topic): an on-demand task's status moving on (`updates`).

Each carries the schema version `v` and is identified, for a site, by (site_id,
scheduled_at): the slot the scheduler claimed. `decode` raises only `MessageError`, the
dead-letter path (`codec`); the fields' bounds are in `bounds`.
"""

from shared.http_fields import HeaderName, HeaderValue, StatusRange
from shared.messages.bounds import (
    MAX_BIGINT,
    MAX_BODY_BYTES,
    MAX_ERROR,
    MAX_ERROR_DETAIL,
    MAX_MS,
    MAX_REDIRECTS,
    MAX_SITE_REDIRECTS,
    MAX_STATUS,
    MAX_TLS_VERSION,
    MAX_URL,
    MIN_STATUS,
    SCHEMA_VERSION,
)
from shared.messages.codec import Message, decode
from shared.messages.results import (
    MISSED,
    NO_SITE,
    NOT_PERFORMED,
    RESULT_COLUMN_TYPES,
    RESULT_COLUMNS,
    CheckResult,
    copy_row,
    decode_result,
    expired_result,
)
from shared.messages.tasks import (
    DEFAULT_EXPECTED_STATUS,
    DEFAULT_METHOD,
    HTTP_OPTIONS,
    CheckTask,
    TaskAuth,
)
from shared.messages.updates import TASK_RESULT_EXCLUDE, TASK_RESULT_FIELDS, TaskUpdate
from shared.task_status import TaskStatus

__all__ = [
    "DEFAULT_EXPECTED_STATUS",
    "DEFAULT_METHOD",
    "HTTP_OPTIONS",
    "MAX_BIGINT",
    "MAX_BODY_BYTES",
    "MAX_ERROR",
    "MAX_ERROR_DETAIL",
    "MAX_MS",
    "MAX_REDIRECTS",
    "MAX_SITE_REDIRECTS",
    "MAX_STATUS",
    "MAX_TLS_VERSION",
    "MAX_URL",
    "MIN_STATUS",
    "MISSED",
    "NOT_PERFORMED",
    "NO_SITE",
    "RESULT_COLUMNS",
    "RESULT_COLUMN_TYPES",
    "SCHEMA_VERSION",
    "TASK_RESULT_EXCLUDE",
    "TASK_RESULT_FIELDS",
    "CheckResult",
    "CheckTask",
    "HeaderName",  # the API's (pydantic) types, until webmon imports them from http_fields
    "HeaderValue",
    "Message",
    "StatusRange",
    "TaskAuth",
    "TaskStatus",
    "TaskUpdate",
    "copy_row",
    "decode",
    "decode_result",
    "expired_result",
]
