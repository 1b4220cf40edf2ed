-- Shared helpers every later table uses.
--
-- Rules for this directory (see migrations/README.md): never edit a migration
-- that has been applied anywhere; add a new one.

-- Keeps updated_at current on every update of a table that opts in with:
--   create trigger <table>_set_updated_at before update on <table>
--     for each row execute function set_updated_at();
create or replace function set_updated_at() returns trigger as $$
begin
    new.updated_at = now();
    return new;
end;
$$ language plpgsql;
