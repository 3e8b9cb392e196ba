"""The official `openai` Python client against a running daemon.

argv: base URL of the daemon, her id (the model), the reply her fake Mind gives.
Prints "all openai calls succeeded" when every check passed; any failure raises.
"""

import base64
import sys

import openai

base, model, reply = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base + "/v1", api_key="not-needed", max_retries=0)

# Models: one per persona, her id, owned by eternego.
listed = client.models.list()
ids = [m.id for m in listed.data]
assert model in ids, ids
mine = client.models.retrieve(model)
assert mine.id == model and mine.owned_by == "eternego" and mine.object == "model", mine

# A completion: her reply, in OpenAI's shape.
done = client.chat.completions.create(
    model=model,
    messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hello there"},
    ],
)
assert done.object == "chat.completion", done
assert done.id.startswith("chatcmpl-"), done.id
assert done.created > 0 and done.model == model, done
choice = done.choices[0]
assert choice.index == 0 and choice.finish_reason == "stop", choice
assert choice.message.role == "assistant", choice
assert choice.message.content == reply, repr(choice.message.content)
assert done.usage is not None and done.usage.total_tokens == (
    done.usage.prompt_tokens + done.usage.completion_tokens
), done.usage


def fake_counts(usage):
    """The fake Mind counts 12 tokens read and 7 written for each call her beat made."""
    calls = usage.prompt_tokens // 12
    assert calls >= 1 and usage.prompt_tokens == 12 * calls, usage
    assert usage.completion_tokens == 7 * calls, usage


fake_counts(done.usage)

# A streamed completion with content parts: the client re-sends the whole history, and only
# the newest user turn is new to her. An image part rides along as a data URL.
png = base64.b64encode(b"\x89PNG\r\n\x1a\nopenai-check-image").decode()
stream = client.chat.completions.create(
    model=model,
    messages=[
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": reply},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + png}},
            ],
        },
    ],
    stream=True,
    stream_options={"include_usage": True},
)
pieces, finish, chunk_ids, usage = [], None, set(), None
for chunk in stream:
    assert chunk.object == "chat.completion.chunk", chunk
    chunk_ids.add(chunk.id)
    if chunk.usage is not None:
        usage = chunk.usage
    for c in chunk.choices:
        if c.delta.content:
            pieces.append(c.delta.content)
        if c.finish_reason:
            finish = c.finish_reason
assert len(chunk_ids) == 1, chunk_ids
assert "".join(pieces) == reply, pieces
assert finish == "stop", finish
assert usage is not None and usage.total_tokens >= 0, usage
fake_counts(usage)

# An unknown model is OpenAI's 404.
try:
    client.chat.completions.create(
        model="no-such-persona", messages=[{"role": "user", "content": "hi"}]
    )
    raise AssertionError("an unknown model was answered")
except openai.NotFoundError as e:
    assert e.status_code == 404, e
    assert e.code == "model_not_found", e.body
    assert e.type == "invalid_request_error", e.body
try:
    client.models.retrieve("no-such-persona")
    raise AssertionError("an unknown model was listed")
except openai.NotFoundError as e:
    assert e.status_code == 404

print("all openai calls succeeded")
