-- The title a former member of a group last saw (docs/api.md, "Membership
-- takes effect at once"): written with their former_members row when the
-- membership ends, so a rename after their removal does not reach them.
-- Rows written before this migration have '' and show the current title.

-- +goose Up
ALTER TABLE former_members ADD COLUMN title TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE former_members DROP COLUMN title;
