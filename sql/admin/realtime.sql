-- Realtime plumbing: the publication's tables, and the logical replication slots with how much WAL
-- each holds back (an abandoned slot retains WAL until max_slot_wal_keep_size). Every change of a
-- published table is a message for every client listening to it: rooms, room_members and
-- comments are published; member_heartbeats and sync_states are not.
--
--   psql "$DATABASE_URL" -f sql/admin/realtime.sql

select pubname, schemaname, tablename
  from pg_publication_tables
 where pubname = 'supabase_realtime'
 order by tablename;

select slot_name,
       plugin,
       slot_type,
       active,
       active_pid,
       pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) as retained_wal,
       pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)) as unconfirmed,
       wal_status
  from pg_replication_slots
 order by slot_name;
