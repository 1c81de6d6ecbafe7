-- The outbox is kept for a bounded time (the worker purges events older than its retention,
-- delivered or not): this index serves that sweep.

CREATE INDEX outbox_created ON outbox (created_at);
