"""docs/DEPLOY.md's commands, run as written against the database the Supabase CLI pushed to.

Every line of the page's ``bash`` blocks is a command. A command marked ``# needs the internet``
(logging in, linking, pushing settings, installing packages) or ``# needs pg_cron`` (enabling the
extension, which this cluster does not have) is only checked to be of a known kind. The others
run: ``supabase ... --linked`` with ``--db-url <the pushed database>`` instead, the pg_cron
commands against a stand-in of ``cron.schedule`` and ``cron.job``, and the functions service as
``uvicorn`` starts it, on a free local port, with the pushed database's URL as the pooler's (its
user is ``postgres``, not a superuser, as on the pooler), then ``curl`` against it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests._pg import PG_CRON_STAND_IN, PROJECT_DIR, purge_rooms
from tests._supabase_cli import PushedDatabase, SupabaseCli, cli_url
from watchium_stack.harness import access_token, stop_process
from watchium_stack.keys import new_keys
from watchium_stack.postgres import free_port

DOC = PROJECT_DIR / "docs" / "DEPLOY.md"
FENCE = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
NOT_RUN = ("needs the internet", "needs pg_cron")


@dataclass(frozen=True)
class Command:
    text: str
    tag: str | None
    line: int

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text)

    @property
    def runs(self) -> bool:
        return self.tag not in NOT_RUN


def commands() -> list[Command]:
    """The page's commands in order, each with its ``# ...`` tag."""
    text = DOC.read_text()
    found: list[Command] = []
    for block in FENCE.finditer(text):
        first = text.count("\n", 0, block.start(1)) + 1
        for offset, raw in enumerate(block.group(1).splitlines()):
            if not raw.strip():
                continue
            command, _, tag = raw.partition("  #")
            found.append(Command(command.strip(), tag.strip() or None, first + offset))
    return found


def test_every_command_is_of_a_kind_the_suite_runs_or_says_why_not() -> None:
    found = commands()
    assert len(found) >= 12, "the page's commands were found"
    for command in found:
        kind = command.words[0]
        where = f"docs/DEPLOY.md:{command.line}: {command.text}"
        assert command.tag is None or command.tag in NOT_RUN, where
        if command.runs:
            assert kind in ("supabase", "export", "uvicorn", "curl"), where
        if kind == "supabase" and command.runs:
            assert "--linked" in command.words, f"{where}: target the project with --linked"


@pytest.fixture
def pg_cron_stand_in(pushed_database: PushedDatabase) -> Iterator[None]:
    with pushed_database.connect() as conn:
        conn.execute(PG_CRON_STAND_IN)
    try:
        yield
    finally:
        with pushed_database.connect() as conn:
            conn.execute("drop schema cron cascade")


def test_the_supabase_commands_run_against_the_pushed_database(
    pushed_database: PushedDatabase, pg_cron_stand_in: None
) -> None:
    cli = pushed_database.cli
    assert isinstance(cli, SupabaseCli)
    url = cli_url(pushed_database.url)
    ran = []
    for command in commands():
        if command.words[0] != "supabase" or not command.runs:
            continue
        args = [url if w == "--linked" else w for w in command.words[1:]]
        args[args.index(url) : args.index(url)] = ["--db-url"]
        if args[:2] == ["db", "push"]:
            args.append("--yes")
        proc = cli.run(*args)
        ran.append((command, proc.stdout + proc.stderr))
    outputs = {c.text: out for c, out in ran}
    assert len(ran) >= 7
    assert "up to date" in outputs["supabase db push --linked"]
    assert (
        "watchium-cleanup"
        in outputs[
            'supabase db query --linked "select jobname, schedule, command, active from cron.job"'
        ]
    )


def _environment(command: Command, env: dict[str, str], values: dict[str, str]) -> None:
    """Apply an ``export NAME=value`` line, with this test's value for the documented one."""
    name, _, _ = command.words[1].partition("=")
    assert name in values, f"docs/DEPLOY.md:{command.line}: no test value for {name}"
    env[name] = values[name]


def _expand(word: str, env: dict[str, str]) -> str:
    """``$NAME`` in ``word`` replaced as the shell would, from ``env``."""
    return re.sub(r"\$([A-Z_]+)", lambda m: env.get(m.group(1), ""), word)


def _follow(proc: subprocess.Popen[str], seen: list[str], started: threading.Event) -> None:
    """Read uvicorn's log to its end; ``started`` once the app has started (or uvicorn ended)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if "Application startup complete" in line:
            started.set()
    started.set()


def test_the_functions_run_as_documented_next_to_the_pushed_database(
    pushed_database: PushedDatabase,
) -> None:
    port = free_port()
    keys = new_keys()
    anon = keys.anon_key
    values = {
        "SUPABASE_DB_URL": pushed_database.url,
        "SUPABASE_JWT_SECRET": keys.jwt_secret,
        "SUPABASE_ANON_KEY": anon,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHIUM_", "SUPABASE_"))}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    server: subprocess.Popen[str] | None = None
    follower: threading.Thread | None = None
    answers: list[dict[str, object]] = []
    try:
        for command in commands():
            words = command.words
            if words[0] == "export":
                _environment(command, env, values)
            elif words[0] == "uvicorn":
                words[words.index("--host") + 1] = "127.0.0.1"
                words[words.index("--port") + 1] = str(port)
                server = subprocess.Popen(
                    words, env=env, cwd=PROJECT_DIR, stderr=subprocess.PIPE, text=True
                )
                seen: list[str] = []
                started = threading.Event()
                follower = threading.Thread(target=_follow, args=(server, seen, started))
                follower.start()
                assert started.wait(timeout=60), "uvicorn did not start"
                assert any("startup complete" in line for line in seen), "".join(seen)
            elif words[0] == "curl":
                words = [w.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for w in words]
                words = [_expand(w, env) for w in words]
                done = subprocess.run(words, capture_output=True, text=True, timeout=60, env=env)
                answers.append(json.loads(done.stdout))
        assert server is not None and answers, "the page starts the service and calls it"
        assert isinstance(answers[0]["data"], dict) and "rooms" in answers[0]["data"]

        # Signed in, through the same service: a user's call runs as `authenticated`; the anon
        # key alone is asked to sign in.
        functions = f"http://127.0.0.1:{port}/functions/v1"
        user = access_token(keys.jwt_secret)
        headers = {"apikey": anon, "Authorization": f"Bearer {user}"}
        body = {
            "title": "deploy check",
            "anime_id": "deploy-doc",
            "anime_title": "Deploy",
            "video_url": "https://example.com/v.mp4",
            "host_username": "ops",
        }
        created = httpx.post(f"{functions}/rooms-create", headers=headers, json=body, timeout=30)
        assert created.status_code == 200, created.text
        with pushed_database.connect() as conn:
            purge_rooms(conn, [created.json()["data"]["room"]["room_id"]])
        refused = httpx.post(
            f"{functions}/rooms-create",
            headers={"apikey": anon},
            json={**body, "host_user_id": "someone"},
            timeout=30,
        )
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "WR401"
    finally:
        if server is not None:
            stop_process(server)  # type: ignore[arg-type]  # a text-mode Popen stops the same
            if follower is not None:
                follower.join(timeout=30)  # the log ends with the process
            if server.stderr is not None:
                server.stderr.close()
