-- Roles on a shared server (schema/roles.sql creates them and grants what
-- each needs). Two things here do not depend on the roles existing:
--
-- Creating a campaign makes partitions of the campaign-scoped tables, and
-- only a table's owner may do that (CREATE TABLE ... PARTITION OF); ANALYZE
-- of a campaign's partitions likewise. So these functions run as their
-- owner (SECURITY DEFINER, with a search_path of this schema only), and a
-- crawler that is not the owner can still import a campaign and keep its
-- statistics fresh. Nobody else may call them: EXECUTE is revoked from
-- PUBLIC (roles.sql grants it to mxcrawl_crawler), so a read-only role
-- cannot create campaigns through them.
--
-- The report's views (schema analysis) are no longer kept between runs:
-- every report creates them inside a transaction it rolls back (so that a
-- role that may only read can run it, and what an --analysis-dir file
-- defines never outlives the report). The schema left by earlier versions
-- goes.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure
               FROM pg_proc p
              WHERE p.pronamespace = current_schema()::regnamespace
                AND p.proname IN ('campaign_create', 'campaign_add_partitions',
                                  'campaign_analyze')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp',
                       f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;

DROP SCHEMA IF EXISTS analysis CASCADE;
