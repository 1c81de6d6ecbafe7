-- What a client says about the sender of a message (S2's `metadata{user_id, user_name,
-- attachments}`): stored with the user's message, shown when the conversation is read, and what
-- the webhooks' `message.received` will carry as `data.user`. The two functions that insert
-- messages are replaced with the column added; nothing else in them changes.

ALTER TABLE messages ADD COLUMN metadata jsonb;

CREATE OR REPLACE FUNCTION openclaw_append_message(p_tenant uuid, p_session uuid, p_msg jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    next bigint;
BEGIN
    UPDATE sessions SET next_seq = next_seq + 1, message_count = message_count + 1,
           last_message_at = now(), updated_at = now()
     WHERE tenant_id = p_tenant AND id = p_session
    RETURNING next_seq - 1 INTO next;
    INSERT INTO messages (tenant_id, session_id, id, seq, role, content, tool_calls, tool_call_id,
                          run_id, model, input_tokens, output_tokens, metadata)
    VALUES (p_tenant, p_session, (p_msg->>'id')::uuid, next, p_msg->>'role', p_msg->>'content',
            nullif(p_msg->'tool_calls', 'null'::jsonb), p_msg->>'tool_call_id',
            (p_msg->>'run_id')::uuid, p_msg->>'model', (p_msg->>'input_tokens')::integer,
            (p_msg->>'output_tokens')::integer, nullif(p_msg->'metadata', 'null'::jsonb));
END $$;

CREATE OR REPLACE FUNCTION openclaw_run_begin_rows(p_tenant uuid, p_key text, p_session uuid, p_channel text,
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
        INSERT INTO messages (tenant_id, session_id, id, seq, role, content, run_id, metadata)
        VALUES (p_tenant, s.id, (p_user->>'id')::uuid, 1, p_user->>'role', p_user->>'content', p_run,
                nullif(p_user->'metadata', 'null'::jsonb));
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
