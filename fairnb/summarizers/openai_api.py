"""Note summaries from any OpenAI-compatible chat-completions endpoint.

``OpenAISummarizer`` posts each note to ``{base_url}/chat/completions``
with the FairCLIP paper's prompt: OpenAI itself, a vLLM or Ollama server on
the same machine, or a hospital's approved gateway. It needs nothing beyond
the standard library. Notes leave the machine, so every call first runs
:func:`fairnb.deid.check_scrubbed` and refuses notes that still hold PHI;
this check cannot be turned off. The API key is read only from an
environment variable, so it never appears in a notebook.

Used in: 02_summarize_notes.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Callable, Sequence
from urllib.parse import urlsplit

from ..deid import check_scrubbed, scrub_notes
from .prompt import make_prompt

#: Longest wait honoured from a server's ``Retry-After`` header, seconds.
MAX_RETRY_AFTER = 60.0
_EXAMPLES = ("e.g. 'https://api.openai.com/v1', or "
             "'http://localhost:8000/v1' for vLLM and "
             "'http://localhost:11434/v1' for Ollama")


class APIError(RuntimeError):
    """The endpoint refused a request or kept failing; ``status`` is the
    HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class _Transient(Exception):
    """A failure worth retrying: HTTP 429 or 5xx, network, timeout."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


def check_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash, or a ``ValueError``.

    Examples
    --------
    >>> check_base_url("http://localhost:8000/v1/")
    'http://localhost:8000/v1'
    """
    url = str(base_url or "").strip().rstrip("/")
    if not url:
        raise ValueError(f"base_url is empty; give the API root, "
                         f"{_EXAMPLES}.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must start with http:// or https:// "
                         f"and name a host, got {url!r}; {_EXAMPLES}.")
    return url.removesuffix("/chat/completions")


def _server_message(body: bytes) -> str:
    """The error text of an OpenAI, vLLM or Ollama error body."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300] or "(empty body)"
    err = data
    if isinstance(err, dict):  # OpenAI and Ollama say "error", vLLM "detail"
        err = err.get("error", err.get("detail", err))
    if isinstance(err, dict):
        err = err.get("message", err)
    return str(err)[:300]


def _body(err: urllib.error.HTTPError) -> bytes:
    try:
        return err.read()
    except OSError:  # the connection may already be gone
        return b""


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return None


class OpenAISummarizer:
    """Summarize clinical notes with an OpenAI-compatible chat endpoint.

    One request per note: the system message is
    :func:`~fairnb.summarizers.prompt.make_prompt`, the user message the
    note. Requests that get HTTP 429, a 5xx status, a network error or a
    timeout are retried after ``backoff * 2**attempt`` seconds (longer if
    the server's ``Retry-After`` asks, up to 60 s); other 4xx statuses fail
    at once.

    Parameters
    ----------
    base_url : str
        API root ending before ``/chat/completions``, e.g.
        ``"https://api.openai.com/v1"`` or ``"http://localhost:8000/v1"``.
    model : str
        Model name the server knows, e.g. ``"gpt-4o-mini"``.
    api_key_env : str
        Name of the environment variable holding the key, sent as
        ``Authorization: Bearer <key>``. When the variable is unset or
        empty no Authorization header is sent, as local vLLM and Ollama
        servers need none. There is deliberately no argument for the key
        itself.
    max_chars : int
        Length asked for in the prompt. Replies are returned as sent
        (stripped): :func:`fairnb.summarize.summarize_notes` post-checks
        every summary and counts the ones it had to cut.
    temperature, max_tokens : float, int
        Sampling temperature and reply budget sent with each request.
    timeout : float
        Seconds to wait for one response.
    retries : int
        Retries after the first attempt of each note.
    backoff : float
        Seconds before the first retry; doubled for each further one.
    scrub : bool
        Scrub the notes with :func:`fairnb.deid.scrub_notes` before
        checking them. With ``False`` the notes must arrive scrubbed; in
        both cases :func:`fairnb.deid.check_scrubbed` runs before any
        request and raises :class:`fairnb.deid.PHIError` on PHI.
    sleep : callable
        Called with each delay in seconds (tests pass a recorder).

    Examples
    --------
    >>> summarize = OpenAISummarizer(base_url="http://localhost:8000/v1",
    ...                              model="meta-llama/Llama-3.1-8B")
    >>> summarize(["72 y/o with POAG OU, IOP 18 mmHg ..."])
    ... # doctest: +SKIP
    ['72-year-old with primary open-angle glaucoma in both eyes ...']

    References
    ----------
    Luo et al., "FairCLIP: Harnessing Fairness in Vision-Language
    Learning", CVPR 2024 (notes summarised by GPT-4 to 180 characters).
    """

    name = "openai"

    def __init__(self, *, base_url: str, model: str,
                 api_key_env: str = "OPENAI_API_KEY", max_chars: int = 180,
                 temperature: float = 0.0, max_tokens: int = 96,
                 timeout: float = 60.0, retries: int = 5,
                 backoff: float = 1.0, scrub: bool = True,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = check_base_url(base_url)
        self.model = str(model).strip()
        if not self.model:
            raise ValueError("model is empty; name a model the server "
                             "serves, e.g. 'gpt-4o-mini'.")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError("timeout must be > 0, retries and backoff "
                             ">= 0.")
        self.api_key_env = str(api_key_env)
        self.max_chars = int(max_chars)
        self.prompt = make_prompt(max_chars=self.max_chars)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.timeout, self.retries = float(timeout), int(retries)
        self.backoff, self.scrub, self.sleep = float(backoff), scrub, sleep

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def __repr__(self) -> str:
        return (f"OpenAISummarizer(base_url={self.base_url!r}, "
                f"model={self.model!r}, api_key_env={self.api_key_env!r})")

    def __call__(self, notes: Sequence[str]) -> list[str]:
        """Summaries of ``notes``, one per note, in order.

        Empty or whitespace-only notes give ``""`` without a request.

        Raises
        ------
        fairnb.deid.PHIError
            Before any request, when a note still holds PHI.
        APIError
            When the server refuses a request or keeps failing.
        """
        if isinstance(notes, str):
            raise TypeError("notes must be a list of notes, not one str.")
        notes = [str(n) for n in notes]
        if self.scrub:
            notes = scrub_notes(notes).texts
        check_scrubbed(notes)
        return [self._summarize(n) if n.strip() else "" for n in notes]

    def _summarize(self, note: str) -> str:
        payload = json.dumps({
            "model": self.model,
            "messages": [{"role": "system", "content": self.prompt},
                         {"role": "user", "content": note}],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }).encode("utf-8")
        for attempt in range(self.retries + 1):
            try:
                return self._content(self._post(payload))
            except _Transient as err:
                last = err
                if attempt == self.retries:
                    break
                delay = self.backoff * 2 ** attempt
                self.sleep(max(delay, err.retry_after or 0.0))
        raise APIError(f"{self.url} still failing after {self.retries + 1} "
                       f"attempts; last error: {last}",
                       status=last.status)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json",
                   "Accept": "application/json",
                   "User-Agent": "fairnb-summarizer"}
        key = os.environ.get(self.api_key_env, "").strip()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, payload: bytes) -> bytes:
        request = urllib.request.Request(self.url, data=payload,
                                         headers=self._headers(),
                                         method="POST")
        try:
            with urllib.request.urlopen(request,
                                        timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            status, message = err.code, _server_message(_body(err))
            if status == 429 or status >= 500:
                raise _Transient(f"HTTP {status}: {message}", status=status,
                                 retry_after=_retry_after(
                                     err.headers.get("Retry-After"))
                                 ) from None
            raise APIError(self._refusal(status, message),
                           status=status) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            raise _Transient(f"{type(err).__name__}: {reason}") from None

    def _refusal(self, status: int, message: str) -> str:
        text = f"HTTP {status} from {self.url}: {message}"
        if status == 401 and os.environ.get(self.api_key_env, "").strip():
            text += (f" The key in the environment variable "
                     f"{self.api_key_env} was rejected; check it.")
        elif status == 401:
            text += (f" Set the environment variable {self.api_key_env} to "
                     f"your API key before starting Jupyter (export "
                     f"{self.api_key_env}=...), or pass api_key_env= the "
                     f"name of the variable that holds it.")
        elif status == 404:
            text += (" Check base_url (most servers end it in /v1) and "
                     "that the server serves this model.")
        return text

    def _content(self, body: bytes) -> str:
        try:
            content = json.loads(body)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            content = None
        if not isinstance(content, str):
            raise APIError(f"Unexpected reply from {self.url}: no text in "
                           f"choices[0].message.content "
                           f"({body[:200].decode('utf-8', 'replace')!r}).")
        return content.strip()
