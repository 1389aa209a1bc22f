"""The Docker-free local stand-in for Supabase: PostgreSQL, migrations, gateway, auth, Realtime."""
