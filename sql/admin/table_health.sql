-- Table sizes, dead rows and index use of Watchium's tables (heartbeats update member_heartbeats
-- constantly, so watch its dead tuples and autovacuum).
--
--   psql "$DATABASE_URL" -f sql/admin/table_health.sql

select relname as table_name,
       n_live_tup as live_rows,
       n_dead_tup as dead_rows,
       pg_size_pretty(pg_total_relation_size(relid)) as total_size,
       last_autovacuum,
       last_autoanalyze
  from pg_stat_user_tables
 where schemaname in ('public', 'watchium')
 order by pg_total_relation_size(relid) desc;

select relname as table_name,
       indexrelname as index_name,
       idx_scan as scans,
       pg_size_pretty(pg_relation_size(indexrelid)) as size
  from pg_stat_user_indexes
 where schemaname = 'public'
 order by relname, idx_scan desc;
