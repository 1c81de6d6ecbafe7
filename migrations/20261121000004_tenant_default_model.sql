-- A tenant's default model (`provider/model`), used when neither the request nor the session
-- names one; NULL means the operator-wide default.
ALTER TABLE tenants ADD COLUMN default_model text CHECK (default_model IS NULL OR length(default_model) BETWEEN 3 AND 200);
