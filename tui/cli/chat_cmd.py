"""``finetui chat``: talk to an endpoint from the terminal, streaming.

ENDPOINT is an endpoint name in the workspace (its URL and key are looked
up) or a URL with ``--key`` / ``FINETUI_ENDPOINT_KEY``. Without
``--message`` it is a REPL reading lines from stdin; slash commands:
/reset, /system TEXT, /params [k=v ...], /raw, /exit. ``--compare A B``
sends each prompt to both and prints both answers, labelled.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field

import click

from finetui.core.chat import KEY_ENV, ChatClient, ChatParams, stats_line, to_dict
from finetui.core.errors import FinetuiError, InvalidInput, OperationFailed

from .common import json_option, pass_ctx, write_now

HELP = "commands: /reset  /system TEXT  /params [k=v ...]  /raw  /exit"


@dataclass
class Target:
    label: str
    client: ChatClient
    history: list[dict[str, str]] = field(default_factory=list)


def _open(ctx, ref: str, key: str | None, protocol: str, timeout: float) -> Target:
    if ref.startswith(("http://", "https://")):
        if not key:
            raise InvalidInput(f"{ref}: give the endpoint's key with --key or {KEY_ENV}")
        return Target(ref, ChatClient(ref, key, protocol, timeout))
    backend = ctx.backend
    ep = backend.get_endpoint(ref)
    if ep.state.value != "Succeeded":
        detail = f": {ep.error}" if ep.error else ""
        raise OperationFailed(f"endpoint {ref} is {ep.state.value}{detail}", hint=f"`finetui endpoint restart {ref}`")
    url = ep.base_url if protocol != "score" and ep.base_url else ep.scoring_uri
    if not url:
        raise OperationFailed(f"endpoint {ref} has no URL yet")
    secret = backend.endpoint_keys(ref).primary  # --key is for URLs; a named endpoint brings its own
    return Target(ref, ChatClient(url, secret, protocol, timeout, endpoint=ref))


async def _answer(target: Target, messages: list[dict[str, str]], params: ChatParams, show: bool, prefix: str) -> str:
    pieces: list[str] = []
    if show and prefix:
        click.echo(prefix, nl=False)
    async for piece in target.client.stream(messages, params):
        pieces.append(piece)
        if show:
            write_now(piece)
    if show:
        click.echo()
        line = stats_line(target.client.last_stats)
        if line:
            click.echo(click.style(line, dim=True), err=True)
    return "".join(pieces)


def _conversation(system: str | None, history: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system else []
    return head + history + [{"role": "user", "content": text}]


@click.command("chat")
@click.argument("endpoint", required=False)
@click.option("--compare", nargs=2, metavar="A B", help="Send each prompt to two endpoints and show both answers.")
@click.option("--key", envvar=KEY_ENV, help=f"Key for an endpoint given by URL (env {KEY_ENV}).")
@click.option("--message", "-m", help="Send one message, print the answer and exit.")
@click.option("--system", "system", help="System message for the conversation.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Generation parameter: temperature (0 is greedy), top_p, do_sample, max_new_tokens (or max_tokens), stop, seed (repeatable).",
)
@click.option(
    "--protocol",
    type=click.Choice(["auto", "openai", "score"]),
    default="auto",
    show_default=True,
    help="openai streams from /v1/chat/completions; score posts to Azure's /score.",
)
@click.option("--timeout", default=120.0, show_default=True, type=click.FloatRange(min=1), help="Seconds per answer.")
@json_option
@pass_ctx
def chat(ctx, endpoint, compare, key, message, system, params, protocol, timeout, as_json) -> None:
    """Chat with ENDPOINT (a name or URL), streaming tokens as they come."""
    refs = list(compare) if compare else ([endpoint] if endpoint else [])
    if not refs:
        raise InvalidInput("give an ENDPOINT (name or URL), or --compare A B")
    if compare and endpoint:
        raise InvalidInput("give either ENDPOINT or --compare A B, not both")
    gen = ChatParams().updated(list(params))
    targets = [_open(ctx, ref, key, protocol, timeout) for ref in refs]
    loop = asyncio.new_event_loop()
    try:
        if message is not None:
            _one_shot(loop, targets, system, message, gen, as_json)
        else:
            _repl(loop, targets, system, gen, as_json)
    finally:
        for t in targets:
            loop.run_until_complete(t.client.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _one_shot(loop, targets: list[Target], system: str | None, message: str, gen: ChatParams, as_json: bool) -> None:
    results = []
    for t in targets:
        prefix = f"[{t.label}] " if len(targets) > 1 else ""
        answer = loop.run_until_complete(_answer(t, _conversation(system, [], message), gen, not as_json, prefix))
        results.append({"endpoint": t.label, "answer": answer, "stats": to_dict(t.client.last_stats)})
    if as_json:
        click.echo(json.dumps(results[0] if len(results) == 1 else results, indent=2, ensure_ascii=False))


def _repl(loop, targets: list[Target], system: str | None, gen: ChatParams, as_json: bool) -> None:
    interactive = sys.stdin.isatty()
    if interactive:
        names = " and ".join(t.label for t in targets)
        click.echo(click.style(f"chatting with {names}; {HELP}", dim=True), err=True)
    while True:
        if interactive:
            click.echo("you> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            if interactive:
                click.echo()  # Ctrl+D: the shell's prompt starts on a line of its own, not after "you> "
            return
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command in ("/exit", "/quit"):
                return
            if command == "/reset":
                for t in targets:
                    t.history.clear()
                click.echo("conversation cleared", err=True)
            elif command == "/system":
                system = rest.strip() or None
                click.echo(f"system message {'set' if system else 'cleared'}", err=True)
            elif command == "/params":
                gen, errors = gen.apply(rest)
                for error in errors:
                    click.echo(f"error: {error}", err=True)
                click.echo(" ".join(f"{k}={v}" for k, v in gen.__dict__.items()), err=True)
            elif command == "/raw":
                for t in targets:
                    raw = {"endpoint": t.label, "request": t.client.last_request, "response": t.client.last_response}
                    click.echo(json.dumps(raw, indent=2, ensure_ascii=False))
            else:
                click.echo(f"unknown command {command}; {HELP}", err=True)
            continue
        results = []
        for t in targets:
            prefix = f"[{t.label}] " if len(targets) > 1 else ("assistant> " if interactive else "")
            try:
                answer = loop.run_until_complete(_answer(t, _conversation(system, t.history, text), gen, not as_json, prefix))
            except FinetuiError as exc:  # one failed turn does not end the session
                click.echo(f"error: {exc}", err=True)
                continue
            t.history += [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]
            results.append({"endpoint": t.label, "answer": answer, "stats": to_dict(t.client.last_stats)})
        if as_json:
            click.echo(json.dumps(results, ensure_ascii=False))
