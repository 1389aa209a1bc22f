-- Supabase compatibility bootstrap, part 6: sessions and refresh tokens for the local auth server.
--
-- Supabase Auth keeps a session per sign-in and a chain of single-use refresh tokens per session:
-- refreshing revokes the token it uses and issues its successor; presenting a revoked token again
-- is refused (and ends the session, as it means the token leaked). The local auth server
-- (watchium_stack/auth.py) keeps the same state here. Tokens are stored as SHA-256 hashes, so a
-- read of this table yields no usable token. No API role may read or write these tables. The columns
-- are the local server's own, not GoTrue's: it refuses a database whose auth schema is GoTrue's.

create table if not exists auth.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  refreshed_at timestamptz,
  user_agent text,
  ip text
);
comment on table auth.sessions is
  'Local stand-in for Supabase Auth''s sessions: one per sign-in; logout deletes it.';
create index if not exists sessions_user_id_idx on auth.sessions (user_id);

create table if not exists auth.refresh_tokens (
  id bigserial primary key,
  token_hash text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  session_id uuid not null references auth.sessions (id) on delete cascade,
  parent_id bigint,
  revoked boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint refresh_tokens_token_hash_key unique (token_hash)
);
comment on table auth.refresh_tokens is
  'Single-use refresh tokens (SHA-256 of the token), chained per session by parent_id.';
create index if not exists refresh_tokens_session_id_idx on auth.refresh_tokens (session_id);

alter table auth.sessions owner to supabase_auth_admin;
alter table auth.refresh_tokens owner to supabase_auth_admin;
revoke all on auth.sessions, auth.refresh_tokens from anon, authenticated, public;
revoke all on sequence auth.refresh_tokens_id_seq from anon, authenticated, public;
grant all on auth.sessions, auth.refresh_tokens to service_role;
grant usage on sequence auth.refresh_tokens_id_seq to service_role;
