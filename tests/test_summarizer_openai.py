"""OpenAISummarizer against a real chat-completions server on 127.0.0.1."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fairnb.deid import PHIError
from fairnb.summarizers import PAPER_PROMPT, make_prompt
from fairnb.summarizers.openai_api import APIError, OpenAISummarizer

MODEL = "tiny-med-llm"


def summary_of(note: str) -> str:
    """What the fake server answers: deterministic, derived from the note."""
    return "Summary: " + " ".join(note.split()[:4]).upper()


class FakeServer:
    """A chat-completions endpoint; ``script`` holds (status, error message)
    pairs answered before the normal replies."""

    def __init__(self):
        self.requests, self.script = [], []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.01},
                                       daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append({
                    "path": self.path, "body": json.loads(body),
                    "auth": self.headers.get("Authorization")})
                status, reply = server.answer(self.path, json.loads(body))
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def answer(self, path, body):
        if self.script:
            status, message = self.script.pop(0)
            return status, {"error": {"message": message,
                                      "type": "test_error"}}
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}"}}
        messages = body.get("messages", [])
        roles = [m.get("role") for m in messages]
        if body.get("model") != MODEL or roles != ["system", "user"]:
            return 400, {"error": {"message": "bad request: model or "
                                              "roles wrong"}}
        note = messages[1]["content"]
        return 200, {"id": "x", "object": "chat.completion",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant",
                                              "content": "  " + summary_of(
                                                  note) + "\n"}}]}


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                "all_proxy", "ALL_PROXY", "OPENAI_API_KEY", "FAIRNB_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = FakeServer()
    yield srv
    srv.close()


def make(server, **kwargs):
    delays = []
    kwargs.setdefault("sleep", delays.append)
    summarizer = OpenAISummarizer(base_url=server.base_url, model=MODEL,
                                  **kwargs)
    return summarizer, delays


NOTES = ["Assessment: mild POAG OU. IOP 18 mmHg OD, 21 mmHg OS.",
         "Non-glaucoma exam: healthy optic nerves OU, C/D 0.3.",
         "", "Patient is a 67 y/o female with normal-tension glaucoma."]


def test_prompt_is_the_papers():
    assert make_prompt() == PAPER_PROMPT
    assert "within 180 characters" in PAPER_PROMPT
    assert "within 60 characters" in make_prompt(max_chars=60)
    with pytest.raises(ValueError, match="positive integer"):
        make_prompt(max_chars=0)


def test_happy_path_one_request_per_note(server):
    summarize, delays = make(server, temperature=0.2, max_tokens=50)
    out = summarize(NOTES)
    assert out == [summary_of(NOTES[0]), summary_of(NOTES[1]), "",
                   summary_of(NOTES[3])]
    assert len(server.requests) == 3 and delays == []
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["body"]["messages"] == [
        {"role": "system", "content": PAPER_PROMPT},
        {"role": "user", "content": NOTES[0]}]
    assert first["body"]["temperature"] == 0.2
    assert first["body"]["max_tokens"] == 50
    assert summarize.name == "openai"


def test_prompt_follows_max_chars_and_replies_come_back_raw(server):
    summarize, _ = make(server, max_chars=12)
    out = summarize([NOTES[0]])
    # the reply as sent: summarize_notes post-checks and counts the cuts
    assert len(out[0]) > 12 and out[0].startswith("Summary:")
    system = server.requests[0]["body"]["messages"][0]["content"]
    assert system == make_prompt(max_chars=12)


def test_api_key_read_from_env(server, monkeypatch):
    monkeypatch.setenv("FAIRNB_KEY", "sk-test-123")
    summarize, _ = make(server, api_key_env="FAIRNB_KEY")
    summarize([NOTES[0]])
    assert server.requests[0]["auth"] == "Bearer sk-test-123"
    assert "sk-test-123" not in repr(summarize)


def test_no_authorization_header_without_key(server):
    summarize, _ = make(server)
    summarize([NOTES[0]])
    assert server.requests[0]["auth"] is None


@pytest.mark.parametrize("status", [429, 503])
def test_retries_with_exponential_backoff(server, status):
    server.script = [(status, "slow down"), (status, "slow down")]
    summarize, delays = make(server, backoff=0.5)
    assert summarize([NOTES[1]]) == [summary_of(NOTES[1])]
    assert len(server.requests) == 3
    assert delays == [0.5, 1.0]


def test_gives_up_after_retries(server):
    server.script = [(500, "boom")] * 4
    summarize, delays = make(server, retries=3, backoff=1.0)
    with pytest.raises(APIError, match="after 4 attempts.*HTTP 500: boom"):
        summarize([NOTES[0]])
    assert delays == [1.0, 2.0, 4.0]
    assert len(server.requests) == 4


def test_network_errors_are_retried():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    delays = []
    summarize = OpenAISummarizer(base_url=f"http://127.0.0.1:{port}/v1",
                                 model=MODEL, retries=2, backoff=0.1,
                                 timeout=2, sleep=delays.append)
    with pytest.raises(APIError, match="after 3 attempts"):
        summarize([NOTES[0]])
    assert delays == [0.1, 0.2]


def test_bad_request_fails_at_once_with_server_message(server):
    server.script = [(400, "max_tokens is too large: 96")]
    summarize, delays = make(server)
    with pytest.raises(APIError, match="max_tokens is too large") as info:
        summarize([NOTES[0], NOTES[1]])
    assert info.value.status == 400 and "400" in str(info.value)
    assert len(server.requests) == 1 and delays == []


def test_unauthorized_names_the_env_var(server):
    server.script = [(401, "Incorrect API key provided")]
    summarize, _ = make(server, api_key_env="FAIRNB_KEY")
    with pytest.raises(APIError, match="FAIRNB_KEY") as info:
        summarize([NOTES[0]])
    assert "Incorrect API key provided" in str(info.value)
    assert info.value.status == 401


def test_wrong_model_reports_the_server_message(server):
    summarize = OpenAISummarizer(base_url=server.base_url, model="other",
                                 sleep=lambda s: None)
    with pytest.raises(APIError, match="model or roles wrong"):
        summarize([NOTES[0]])


@pytest.mark.parametrize("note", [
    "Seen by Dr. John Smith, IOP 18 mmHg.",
    "POAG OU; call (555) 123-4567 to reschedule.",
    "MRN: 12345678, C/D 0.7."])
def test_unscrubbed_notes_are_refused_before_any_request(server, note):
    summarize, _ = make(server, scrub=False)
    with pytest.raises(PHIError, match="Note 1") as info:
        summarize([NOTES[0], note])
    assert server.requests == []
    for leaked in ("John", "Smith", "555", "12345678"):
        assert leaked not in str(info.value)


def test_scrub_true_sends_only_placeholders(server):
    summarize, _ = make(server)  # scrub=True by default
    summarize(["Seen by Dr. John Smith on 01/02/2023, IOP 18 mmHg."])
    sent = server.requests[0]["body"]["messages"][1]["content"]
    assert sent == "Seen by Dr. <PERSON_NAME> on <DATE>, IOP 18 mmHg."


@pytest.mark.parametrize("url, match", [
    ("", "base_url is empty"),
    ("   ", "base_url is empty"),
    ("localhost:8000/v1", "http:// or https://"),
    ("ftp://example.org/v1", "http:// or https://"),
    ("http://", "http:// or https://")])
def test_base_url_validation(url, match):
    with pytest.raises(ValueError, match=match):
        OpenAISummarizer(base_url=url, model=MODEL)


def test_base_url_is_normalised(server):
    summarize, _ = make(server)
    for url in (server.base_url + "/", server.base_url
                + "/chat/completions"):
        other = OpenAISummarizer(base_url=url, model=MODEL)
        assert other.url == summarize.url == (server.base_url
                                              + "/chat/completions")


def test_malformed_reply_is_an_api_error(server, monkeypatch):
    monkeypatch.setattr(server, "answer",
                        lambda path, body: (200, {"choices": []}))
    summarize, delays = make(server)
    with pytest.raises(APIError, match="Unexpected reply"):
        summarize([NOTES[0]])
    assert delays == []


def test_a_single_string_is_rejected(server):
    summarize, _ = make(server)
    with pytest.raises(TypeError, match="list of notes"):
        summarize(NOTES[0])
    assert server.requests == []


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "  "}, "model is empty"),
    ({"timeout": 0}, "timeout must be > 0"),
    ({"retries": -1}, "retries and backoff >= 0")])
def test_other_settings_are_validated(kwargs, match):
    kwargs = {"base_url": "http://localhost:8000/v1", "model": MODEL,
              **kwargs}
    with pytest.raises(ValueError, match=match):
        OpenAISummarizer(**kwargs)
