-- Runs at the database's limit: a stateful run is two round trips, one function call to start
-- it and one to end it, each setting the RLS tenant itself; a stateless completion has no
-- session and reaches this table later, through the write-behind batcher.
--
-- `lease_until` marks a run executing on some replica: renewed while it works, cleared when it
-- ends. A replica that dies leaves it to lapse, and the sweep (`openclaw_sweep_runs`) ends the
-- run failed. Runs of jobs (async messages) have no lease: their job's reaper owns them.

ALTER TABLE runs ALTER COLUMN session_id DROP NOT NULL;
-- The user's last words of a stateless completion, which no session's history holds.
ALTER TABLE runs ADD COLUMN message text, ADD COLUMN lease_until timestamptz;
CREATE INDEX runs_leased ON runs (lease_until) WHERE status = 'processing' AND lease_until IS NOT NULL;

-- Appends a message (`{id, role, content, run_id, model, input_tokens, output_tokens,
-- tool_calls, tool_call_id}`) under the session row's lock, taking its next sequence number.
CREATE FUNCTION openclaw_append_message(p_tenant uuid, p_session uuid, p_msg jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    next bigint;
BEGIN
    UPDATE sessions SET next_seq = next_seq + 1, message_count = message_count + 1,
           last_message_at = now(), updated_at = now()
     WHERE tenant_id = p_tenant AND id = p_session
    RETURNING next_seq - 1 INTO next;
    INSERT INTO messages (tenant_id, session_id, id, seq, role, content, tool_calls, tool_call_id,
                          run_id, model, input_tokens, output_tokens)
    VALUES (p_tenant, p_session, (p_msg->>'id')::uuid, next, p_msg->>'role', p_msg->>'content',
            nullif(p_msg->'tool_calls', 'null'::jsonb), p_msg->>'tool_call_id',
            (p_msg->>'run_id')::uuid, p_msg->>'model', (p_msg->>'input_tokens')::integer,
            (p_msg->>'output_tokens')::integer);
END $$;

-- Takes the session's turn for `p_run` if it is free (or lapsed, or already the run's); then
-- records the user's message (when given) and returns the last `p_history` messages.
-- `{"took": false}` when another run holds the turn.
CREATE FUNCTION openclaw_run_turn(p_tenant uuid, p_session uuid, p_run uuid, p_user jsonb,
                                  p_lease_ms double precision, p_history integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('openclaw.tenant_id', p_tenant::text, true);
    UPDATE sessions SET turn_run = p_run, turn_until = now() + p_lease_ms * interval '1 millisecond'
     WHERE tenant_id = p_tenant AND id = p_session
       AND (turn_run IS NULL OR turn_run = p_run OR turn_until < now());
    IF NOT FOUND THEN
        RETURN jsonb_build_object('took', false);
    END IF;
    IF p_user IS NOT NULL THEN
        PERFORM openclaw_append_message(p_tenant, p_session, p_user);
    END IF;
    RETURN jsonb_build_object('took', true, 'history', (
        SELECT coalesce(jsonb_agg(jsonb_build_object('role', h.role, 'content', h.content)
                                  ORDER BY h.seq), '[]'::jsonb)
          FROM (SELECT seq, role, content FROM messages
                 WHERE tenant_id = p_tenant AND session_id = p_session
                 ORDER BY seq DESC LIMIT p_history) h));
END $$;

-- Starts a stateful run in one call: the session named `p_key` (created on first use with
-- `p_session` as its id), the run's row under a lease, the turn and the user's message when the
-- turn is free, the history, and what an agent run offers (the tenant's enabled skills, its
-- HTTP skills among them, whether it has memories to recall). `{"refusal": "expired"}` for a
-- session past its ttl. A session created here is created holding the turn, with the message
-- as its first: the common case (a fresh key) writes each row once.
CREATE FUNCTION openclaw_run_begin(p_tenant uuid, p_key text, p_session uuid, p_channel text,
                                   p_agent text, p_run uuid, p_model text, p_default_model text,
                                   p_user jsonb, p_lease_ms double precision, p_history integer,
                                   p_agent_run boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s sessions%ROWTYPE;
    chosen text;
    turn jsonb;
    lease timestamptz := now() + p_lease_ms * interval '1 millisecond';
BEGIN
    PERFORM set_config('openclaw.tenant_id', p_tenant::text, true);
    INSERT INTO sessions (tenant_id, id, key, agent_id, channel, turn_run, turn_until, next_seq,
                          message_count, last_message_at)
    VALUES (p_tenant, p_session, p_key, coalesce(p_agent, 'default'), coalesce(p_channel, 'api'),
            p_run, lease, 2, 1, now())
    ON CONFLICT (tenant_id, key) DO NOTHING
    RETURNING * INTO s;
    IF FOUND THEN
        chosen := coalesce(p_model, p_default_model);
        INSERT INTO runs (tenant_id, id, session_id, model, lease_until)
        VALUES (p_tenant, p_run, s.id, chosen, lease);
        INSERT INTO messages (tenant_id, session_id, id, seq, role, content, run_id)
        VALUES (p_tenant, s.id, (p_user->>'id')::uuid, 1, p_user->>'role', p_user->>'content', p_run);
        turn := jsonb_build_object('took', true, 'history', CASE WHEN p_history > 0
            THEN jsonb_build_array(jsonb_build_object('role', p_user->>'role',
                                                      'content', p_user->>'content'))
            ELSE '[]'::jsonb END);
    ELSE
        SELECT * INTO s FROM sessions WHERE tenant_id = p_tenant AND key = p_key;
        IF s.expires_at IS NOT NULL AND s.expires_at <= now() THEN
            RETURN jsonb_build_object('refusal', 'expired');
        END IF;
        chosen := coalesce(p_model, s.model, p_default_model);
        INSERT INTO runs (tenant_id, id, session_id, model, lease_until)
        VALUES (p_tenant, p_run, s.id, chosen, lease);
        turn := openclaw_run_turn(p_tenant, s.id, p_run, p_user, p_lease_ms, p_history);
    END IF;
    turn := turn || jsonb_build_object('session', s.id, 'key', s.key, 'model', chosen);
    IF p_agent_run THEN
        turn := turn || (
            SELECT jsonb_build_object(
                'skills', coalesce(jsonb_agg(k.name ORDER BY k.name), '[]'::jsonb),
                'http_skills', coalesce(jsonb_agg(to_jsonb(h) ORDER BY h.name)
                                        FILTER (WHERE h.name IS NOT NULL), '[]'::jsonb),
                'memories', EXISTS (SELECT 1 FROM memory_totals
                                     WHERE tenant_id = p_tenant AND entries > 0))
              FROM tenant_skills k
              LEFT JOIN tenant_http_skills h ON h.tenant_id = k.tenant_id AND h.name = k.name
             WHERE k.tenant_id = p_tenant AND k.enabled);
    END IF;
    RETURN turn;
END $$;

-- Ends a stateful run in one call: its outcome (only if it is still `processing`: the first
-- end wins), its reply joining the history, the outbox events it reports, and the turn's
-- release (the session row written once for both). Returns whether this call ended the run.
CREATE FUNCTION openclaw_run_end(p_tenant uuid, p_session uuid, p_run uuid, p_reply jsonb,
                                 p_status text, p_response text, p_finish_reason text,
                                 p_error jsonb, p_input_tokens integer, p_output_tokens integer,
                                 p_latency_ms integer, p_outbox jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    ended boolean;
    reply boolean;
    next bigint;
BEGIN
    PERFORM set_config('openclaw.tenant_id', p_tenant::text, true);
    UPDATE runs SET status = p_status, response = p_response,
           response_message_id = (p_reply->>'id')::uuid, finish_reason = p_finish_reason,
           error = p_error, input_tokens = p_input_tokens, output_tokens = p_output_tokens,
           latency_ms = p_latency_ms, finished_at = now(), lease_until = NULL
     WHERE tenant_id = p_tenant AND id = p_run AND status = 'processing';
    ended := FOUND;
    reply := ended AND p_reply IS NOT NULL;
    UPDATE sessions
       SET next_seq = next_seq + reply::integer, message_count = message_count + reply::integer,
           last_message_at = CASE WHEN reply THEN now() ELSE last_message_at END,
           updated_at = now(),
           turn_run = CASE WHEN turn_run = p_run THEN NULL ELSE turn_run END,
           turn_until = CASE WHEN turn_run = p_run THEN NULL ELSE turn_until END
     WHERE tenant_id = p_tenant AND id = p_session AND (reply OR turn_run = p_run)
    RETURNING next_seq - 1 INTO next;
    IF reply THEN
        INSERT INTO messages (tenant_id, session_id, id, seq, role, content, tool_calls,
                              tool_call_id, run_id, model, input_tokens, output_tokens)
        VALUES (p_tenant, p_session, (p_reply->>'id')::uuid, next, p_reply->>'role',
                p_reply->>'content', nullif(p_reply->'tool_calls', 'null'::jsonb),
                p_reply->>'tool_call_id', (p_reply->>'run_id')::uuid, p_reply->>'model',
                (p_reply->>'input_tokens')::integer, (p_reply->>'output_tokens')::integer);
    END IF;
    IF ended THEN
        INSERT INTO outbox (tenant_id, id, event, payload)
        SELECT p_tenant, (e->>'id')::uuid, e->>'event', e->'payload'
          FROM jsonb_array_elements(coalesce(p_outbox, '[]'::jsonb)) e;
    END IF;
    RETURN ended;
END $$;
