-- Runs last. The functions of the earlier files name this schema's
-- objects unqualified (see 000_registry.sql), and a function's body is
-- resolved when it runs, not when it is made: each keeps the search_path
-- it was created with, so that it also works in a session whose path
-- does not start with this schema (psql after the views were installed
-- for good). The IMMUTABLE ones read no object, and stay inlinable.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p
              WHERE p.pronamespace = current_schema()::regnamespace
                AND p.provolatile <> 'i' LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path FROM CURRENT', f);
    END LOOP;
END $$;
