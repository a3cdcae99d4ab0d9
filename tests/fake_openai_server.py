"""A fake OpenAI-compatible server over real HTTP on 127.0.0.1, for testing the ``openai``
provider without mocks.

It serves ``/v1/chat/completions`` (plain and streaming, tool calls, ``response_format``)
and ``/v1/models``. Each test scripts it with a queue of ``Reply`` objects or a handler,
can make it reject tools or response formats like a server without those capabilities,
and can inject faults: rate limits with ``Retry-After``, server errors, hangs past the
client's timeout, dropped connections (before or in the middle of a stream), malformed
JSON, valid JSON that is not a completion, truncated answers. Every request it receives
is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Fault = Literal["hang", "drop", "malformed", "drop_mid_stream", "not_chat"]


@dataclass
class Reply:
    """One scripted answer of the fake server."""

    content: str | None = ""
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    """``(name, arguments)`` pairs; string arguments are sent verbatim (even if not JSON)."""
    finish_reason: str = "stop"
    usage: dict[str, int] | None = field(
        default_factory=lambda: {"prompt_tokens": 100, "completion_tokens": 20}
    )
    """Token usage reported; ``None`` sends none."""
    status: int = 200
    error: str = ""
    """Error message sent with a non-200 status."""
    headers: dict[str, str] = field(default_factory=dict)
    fault: Fault | None = None
    hang_s: float = 5.0

    @classmethod
    def text(cls, content: str, **kwargs: Any) -> Reply:
        return cls(content=content, **kwargs)

    @classmethod
    def tool(cls, name: str, arguments: dict[str, Any] | str, **kwargs: Any) -> Reply:
        return cls(
            content=None, tool_calls=[(name, arguments)], finish_reason="tool_calls", **kwargs
        )

    @classmethod
    def rate_limited(cls, retry_after_s: float) -> Reply:
        return cls(
            status=429, error="Rate limit reached", headers={"Retry-After": f"{retry_after_s:g}"}
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(status=status, error="The server had an error while processing your request")

    @classmethod
    def truncated(cls, content: str) -> Reply:
        return cls(content=content, finish_reason="length")


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: dict[str, Any] | None
    at: float


class FakeOpenAIServer:
    """The server; use as a context manager (``with FakeOpenAIServer() as server``)."""

    def __init__(self, *, model: str = "fake-model", api_key: str | None = None) -> None:
        self.model = model
        self.api_key = api_key
        self.queue: deque[Reply] = deque()
        self.handler: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[Recorded] = []
        self.reject_tools = False
        """Answer 400 to any request that offers tools (a server without tool calling)."""
        self.reject_response_formats: set[str] = set()
        """``response_format`` types answered with 400 (``json_schema``, ``json_object``)."""
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._counter = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat-completion requests received, in order."""
        return [
            r.body
            for r in self.requests
            if r.path.endswith("/chat/completions") and r.body is not None
        ]

    def push(self, *replies: Reply) -> None:
        self.queue.extend(replies)

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ answers

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self.queue:
                return self.queue.popleft()
        if self.handler is not None:
            return self.handler(body)
        return Reply(status=500, error="fake server: no scripted reply left")

    def completion_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"chatcmpl-fake{self._counter}"


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeOpenAI/1.0"

    @property
    def fake(self) -> FakeOpenAIServer:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _record(self, body: dict[str, Any] | None) -> None:
        self.fake.requests.append(
            Recorded(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                time.monotonic(),
            )
        )

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _error(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        self._json(status, {"error": error}, headers)

    def _authorised(self) -> bool:
        if self.fake.api_key is None:
            return True
        if self.headers.get("Authorization") == f"Bearer {self.fake.api_key}":
            return True
        self._error(401, "Incorrect API key provided", "invalid_api_key")
        return False

    def do_GET(self) -> None:
        self._record(None)
        if not self._authorised():
            return
        if self.path.rstrip("/").endswith("/models"):
            model = {"id": self.fake.model, "object": "model", "created": 0, "owned_by": "fake"}
            self._json(200, {"object": "list", "data": [model]})
            return
        self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._record(None)
            self._error(400, "request body is not JSON")
            return
        self._record(body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        if not self._authorised():
            return
        if body.get("model") != self.fake.model:
            self._error(404, f"The model `{body.get('model')}` does not exist", "model_not_found")
            return
        if self.fake.reject_tools and body.get("tools"):
            self._error(400, "tools are not supported by this server")
            return
        kind = (body.get("response_format") or {}).get("type")
        if kind in self.fake.reject_response_formats:
            self._error(400, f"response_format {kind} is not supported")
            return
        reply = self.fake.next_reply(body)
        if reply.fault == "hang":
            self.fake._stopping.wait(reply.hang_s)
        if reply.fault == "drop":
            self.close_connection = True
            return
        if reply.fault == "malformed":
            raw = b'{"id": "chatcmpl-broken", "choices": [ {"mess'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        if reply.fault == "not_chat":
            self._json(200, {"object": "list", "data": []})
            return
        if reply.status != 200:
            self._error(reply.status, reply.error or "error", headers=reply.headers)
            return
        try:
            if body.get("stream"):
                self._stream(body, reply)
            else:
                self._json(200, self._completion(body, reply), reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            return

    # ------------------------------------------------------------------ bodies

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        return [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for i, (name, args) in enumerate(reply.tool_calls)
        ]

    def _usage(self, reply: Reply) -> dict[str, Any] | None:
        if reply.usage is None:
            return None
        usage: dict[str, Any] = dict(reply.usage)
        usage["total_tokens"] = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        if "cached_tokens" in usage:
            usage["prompt_tokens_details"] = {"cached_tokens": usage.pop("cached_tokens")}
        return usage

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = self._tool_calls(reply)
        data: dict[str, Any] = {
            "id": self.fake.completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.fake.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
        }
        usage = self._usage(reply)
        if usage is not None:
            data["usage"] = usage
        return data

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        cid = self.fake.completion_id()

        def send(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> None:
            chunk: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.fake.model,
                "choices": choices,
            }
            if usage is not None:
                chunk["usage"] = usage
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        def delta(d: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": d, "finish_reason": finish, "logprobs": None}]

        send(delta({"role": "assistant", "content": ""}))
        text = reply.content or ""
        pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
        for n, piece in enumerate(pieces):
            send(delta({"content": piece}))
            if reply.fault == "drop_mid_stream" and n == len(pieces) // 2:
                self.close_connection = True
                return
        for i, call in enumerate(self._tool_calls(reply)):
            args = call["function"]["arguments"]
            head = {
                "index": i,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            send(delta({"tool_calls": [head]}))
            for j in range(0, len(args), 5):
                part = {"index": i, "function": {"arguments": args[j : j + 5]}}
                send(delta({"tool_calls": [part]}))
        send(delta({}, reply.finish_reason))
        usage = self._usage(reply)
        if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
            send([], usage)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
