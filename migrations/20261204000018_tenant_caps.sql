-- What a tenant may store: sessions per tenant and messages per session, by tier, unless the
-- operator's overrides (`tenants.limits`) say otherwise. Together with the per-message size the
-- API enforces, they bound a tenant's conversations; runs and outbox events have retention.
--
-- Enforced by triggers, so every path that creates a session or records a message (the run
-- functions, the session API, a worker's run) is covered by one check. The tiers' figures are
-- `domain::Tier::limits`' (as `openclaw_job_cap`'s are).

CREATE FUNCTION openclaw_session_cap(tier text, limits jsonb) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce((limits ->> 'sessions')::bigint,
                    CASE tier WHEN 'free' THEN 1000 WHEN 'pro' THEN 10000 ELSE 100000 END)
$$;

CREATE FUNCTION openclaw_session_message_cap(tier text, limits jsonb) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce((limits ->> 'messages_per_session')::bigint, 10000)
$$;

-- A new session past the tenant's cap is refused (SQLSTATE OC001, the cap as DETAIL). Inserts
-- of a key that exists already (the run functions' ON CONFLICT DO NOTHING) cost one index
-- probe; only a truly new key counts the tenant's sessions, and no further than the cap.
CREATE FUNCTION openclaw_sessions_capped() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cap bigint;
    held bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM sessions WHERE tenant_id = NEW.tenant_id AND key = NEW.key) THEN
        RETURN NEW;
    END IF;
    SELECT openclaw_session_cap(t.tier, t.limits) INTO cap FROM tenants t WHERE t.id = NEW.tenant_id;
    SELECT count(*) INTO held
      FROM (SELECT 1 FROM sessions WHERE tenant_id = NEW.tenant_id LIMIT cap) s;
    IF held >= cap THEN
        RAISE EXCEPTION 'the tenant holds % sessions, as many as its plan allows', cap
            USING ERRCODE = 'OC001', DETAIL = cap::text;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER sessions_capped BEFORE INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION openclaw_sessions_capped();

-- A user's message to a session that holds its cap already is refused (OC002). Only the
-- user's: the reply to a message that was taken still lands, so a run never loses its answer.
-- Every path bumps `message_count` before it inserts, so the count includes this message.
CREATE FUNCTION openclaw_messages_capped() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cap bigint;
    held bigint;
BEGIN
    SELECT openclaw_session_message_cap(t.tier, t.limits), s.message_count INTO cap, held
      FROM sessions s JOIN tenants t ON t.id = s.tenant_id
     WHERE s.tenant_id = NEW.tenant_id AND s.id = NEW.session_id;
    IF held > cap THEN
        RAISE EXCEPTION 'the session holds % messages, as many as the plan allows', cap
            USING ERRCODE = 'OC002', DETAIL = cap::text;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER messages_capped BEFORE INSERT ON messages
    FOR EACH ROW WHEN (NEW.role = 'user') EXECUTE FUNCTION openclaw_messages_capped();

-- Finished runs go after the retention period (the worker's sweep, oldest first).
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
GRANT DELETE ON runs TO openclaw_system;
