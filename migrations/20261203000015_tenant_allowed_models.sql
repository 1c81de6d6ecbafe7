-- The models an operator lets one tenant name, replacing its tier's allow-list (NULL: the
-- tier's). Entries are `provider/model` or patterns ending in `*`.

ALTER TABLE tenants ADD COLUMN allowed_models text[];
