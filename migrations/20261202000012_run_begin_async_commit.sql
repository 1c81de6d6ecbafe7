-- A stateful run's start commits without waiting for its WAL flush; its end still waits.
--
-- The end's flush makes everything before it durable, the start's rows among them, so a run
-- that ended is as durable as before. What a Postgres crash can lose is the start of a run
-- still in progress (at most about three `wal_writer_delay`s of them): that run's end then finds
-- no row and ends the run failed, so no client is told of a reply that is not in the history.
-- Visibility is unchanged: the start is seen by every other session the moment it commits.

ALTER FUNCTION openclaw_run_begin(uuid, text, uuid, text, text, uuid, text, text, jsonb,
                                  double precision, integer, boolean)
    RENAME TO openclaw_run_begin_rows;

CREATE FUNCTION openclaw_run_begin(p_tenant uuid, p_key text, p_session uuid, p_channel text,
                                   p_agent text, p_run uuid, p_model text, p_default_model text,
                                   p_user jsonb, p_lease_ms double precision, p_history integer,
                                   p_agent_run boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    -- Local to the call's transaction (a function's own SET clause would end with the call,
    -- before the commit it is meant for).
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN openclaw_run_begin_rows(p_tenant, p_key, p_session, p_channel, p_agent, p_run, p_model,
                                   p_default_model, p_user, p_lease_ms, p_history, p_agent_run);
END $$;
