-- 015 descriptions: what psql's \df+ says about three compatibility functions.
--
-- check_rate_limit, change_playback_state and seek_to_time keep the names and signatures of an
-- earlier API for callers that still use them; their descriptions now say that in the product's
-- own terms.

comment on function watchium.check_rate_limit(varchar, varchar, integer, integer) is
  'Compatibility rate-limit check (an earlier API''s name and signature) on the rate-limit bucket '
  'store: counts one request and returns whether it was allowed. Limits come from '
  'rate_limit_rules unless window/max are given. New code calls watchium.enforce_rate_limit.';

comment on function public.change_playback_state(varchar, varchar, boolean, numeric) is
  'Play or pause, under an earlier API''s name (sync_control with play/pause does the same): '
  'returns true, or raises (WR400, WR401, WR403, WR404, WRH03, WR429).';

comment on function public.seek_to_time(varchar, varchar, numeric) is
  'Seek, under an earlier API''s name (sync_control with seek does the same): returns true, or '
  'raises (WR400, WR401, WR403, WR404, WRH03, WR429).';
