-- Workers delete jobs that ended more than 30 days ago, a batch a minute: find them by index.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
