-- The built-ins every tenant starts with installed (memory_search, memory_add, spawn_agent):
-- runs offered them before skills could be installed, and now offer only what is installed.
-- New tenants get them when created (openclaw_store::DEFAULT_SKILLS); this gives them to the
-- tenants there already. A tenant may uninstall or disable them like any other skill.

INSERT INTO tenant_skills (tenant_id, name, version)
SELECT t.id, d.name, '1.0.0'
FROM tenants t
CROSS JOIN (VALUES ('memory_search'), ('memory_add'), ('spawn_agent')) AS d (name)
ON CONFLICT (tenant_id, name) DO NOTHING;
