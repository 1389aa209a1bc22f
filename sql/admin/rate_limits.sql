-- Rate limits: the rules, and who is throttled right now (buckets whose next free slot is in the
-- future). Subjects are user ids, or 'address:<client address>' for join_refused_address.
--
--   psql "$DATABASE_URL" -f sql/admin/rate_limits.sql
--   change a limit:  update watchium.rate_limit_rules set max_requests = 20 where action = 'comments';
--   lift a user's:   delete from watchium.rate_limit_buckets where subject = '<user id>';

select action, max_requests, per, description from watchium.rate_limit_rules order by action;

select b.action,
       b.subject,
       round(watchium.rate_limit_peek(b.subject, b.action)::numeric, 1) as blocked_for_s,
       b.tat as next_slot_at
  from watchium.rate_limit_buckets b
 where b.tat > clock_timestamp()
 order by blocked_for_s desc, b.action
 limit 50;
