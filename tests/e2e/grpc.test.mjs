// End-to-end test of llmux's gRPC API with the official Node client (@grpc/grpc-js) and the
// proto loaded at run time (@grpc/proto-loader), against a running `llmux serve`.
//
// Environment (set by run.mjs):
//   LLMUX_GRPC_ADDR      host:port of the gRPC listener, e.g. 127.0.0.1:50051
//   LLMUX_MODEL          the served name of stories260K.gguf
//   LLMUX_HTTP_ADDR      host:port of the same server's HTTP listener: the deadline test reads
//                        /metrics to check that the server cancelled the generation
//                        (llmux_requests_total{finish_reason="cancelled"} goes up,
//                        llmux_requests_running returns to 0)
// The greedy text must equal llama.cpp's continuation in ../shared/vectors/stories260K.json.
//
// Run: LLMUX_BIN=build/src/cli/llmux LLMUX_SHARED_DIR=../shared node tests/e2e/run.mjs tests/e2e/grpc.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { referenceContinuation } from './server.mjs';

const ADDR = process.env.LLMUX_GRPC_ADDR;
const HTTP_ADDR = process.env.LLMUX_HTTP_ADDR;
const MODEL = process.env.LLMUX_MODEL;
const PROMPT = 'Once upon a time';
const MAX_TOKENS = 64;
const TEST_TIMEOUT_MS = 60_000;

const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));
// llama.cpp's greedy 64 tokens for PROMPT: the text `llmux serve` must produce.
const expected = referenceContinuation(PROMPT);

function loadInferenceService() {
  const definition = protoLoader.loadSync('llmux/v1/inference.proto', {
    includeDirs: [protoRoot],
    keepCase: true, // field names as in the .proto (snake_case)
    longs: String,
    enums: String, // enum values by name, e.g. 'FINISH_REASON_STOP'
    defaults: true,
    oneofs: true, // message.event is 'delta' or 'finish'
  });
  return grpc.loadPackageDefinition(definition).llmux.v1.Inference;
}

// Runs a server-streaming call to the end. Resolves with every message and the final
// status code; never rejects, so tests can assert on error codes.
function runStream(client, method, request, options = {}) {
  return new Promise((resolve) => {
    const messages = [];
    let status = null;
    let ended = false;
    let error = null;
    let settled = false;
    const settle = () => {
      if (settled || status === null) return;
      if (status.code === grpc.status.OK && !ended) return; // data may still be queued
      settled = true;
      resolve({ messages, code: status.code, details: status.details, error, call });
    };
    const call = client[method](request, options);
    call.on('data', (message) => messages.push(message));
    call.on('end', () => {
      ended = true;
      settle();
    });
    call.on('error', (e) => {
      error = e;
    });
    call.on('status', (s) => {
      status = s;
      settle();
    });
  });
}

// The server's request counters for MODEL from its Prometheus text (docs/metrics.md).
async function requestMetrics() {
  const response = await fetch(`http://${HTTP_ADDR}/metrics`);
  assert.equal(response.status, 200);
  const metrics = { cancelled: 0, running: 0 };
  for (const line of (await response.text()).split('\n')) {
    const m = line.match(/^(\w+)\{([^}]*)\}\s+(\S+)/);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.model !== MODEL) continue;
    if (m[1] === 'llmux_requests_total' && labels.finish_reason === 'cancelled') {
      metrics.cancelled += Number(m[3]);
    }
    if (m[1] === 'llmux_requests_running') metrics.running += Number(m[3]);
  }
  return metrics;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function deadlineIn(ms) {
  return new Date(Date.now() + ms);
}

// Splits a stream into its deltas and its one final message, checking the shape.
function splitStream(messages) {
  assert.ok(messages.length >= 1, 'the stream has at least the finish message');
  const last = messages[messages.length - 1];
  assert.equal(last.event, 'finish', 'the last message is the finish message');
  const deltas = messages.slice(0, -1);
  for (const m of deltas) assert.equal(m.event, 'delta', 'only the last message is a finish');
  const id = messages[0].id;
  for (const m of messages) {
    assert.equal(m.id, id, 'every message of a call has the same id');
    assert.equal(m.model, MODEL);
  }
  return { deltas, finish: last.finish, id };
}

function greedyCompleteRequest(extra = {}) {
  return {
    model: MODEL,
    prompt: PROMPT,
    sampling: { temperature: 0 },
    max_tokens: MAX_TOKENS,
    ...extra,
  };
}

describe('llmux gRPC API', () => {
  let client;

  before(async () => {
    const Inference = loadInferenceService();
    client = new Inference(ADDR, grpc.credentials.createInsecure());
    // Connect before the first test so that a slow first connection counts against no deadline.
    await new Promise((resolve, reject) =>
      client.waitForReady(deadlineIn(30_000), (e) => (e ? reject(e) : resolve())));
  });

  after(() => {
    client?.close();
  });

  test('ListModels lists the served model', { timeout: TEST_TIMEOUT_MS }, async () => {
    const response = await new Promise((resolve, reject) => {
      client.ListModels({}, { deadline: deadlineIn(10_000) }, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
    const model = response.models.find((m) => m.id === MODEL);
    assert.ok(model, `${MODEL} in ${JSON.stringify(response.models.map((m) => m.id))}`);
    assert.equal(model.ready, true);
    assert.equal(model.architecture, 'llama');
    assert.ok(model.context_length > 0);
  });

  test('Complete streams the greedy story', { timeout: TEST_TIMEOUT_MS }, async () => {
    const result = await runStream(client, 'Complete', greedyCompleteRequest(), {
      deadline: deadlineIn(30_000),
    });
    assert.equal(result.code, grpc.status.OK, result.details);
    const { deltas, finish, id } = splitStream(result.messages);
    assert.match(id, /^cmpl-/);
    assert.ok(deltas.length >= 2, `streamed in pieces, got ${deltas.length} delta(s)`);
    const text = deltas.map((m) => m.delta.text).join('');
    assert.ok(text.length > 0);

    assert.equal(text, expected);

    assert.ok(['FINISH_REASON_STOP', 'FINISH_REASON_LENGTH'].includes(finish.finish_reason));
    const usage = finish.usage;
    assert.equal(usage.prompt_tokens, 5, 'BOS + 4 tokens for "Once upon a time"');
    assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= MAX_TOKENS);
    if (finish.finish_reason === 'FINISH_REASON_LENGTH') {
      assert.equal(usage.completion_tokens, MAX_TOKENS);
    }
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  });

  test('Chat streams content deltas then finish and usage', { timeout: TEST_TIMEOUT_MS }, async () => {
    const result = await runStream(
      client,
      'Chat',
      {
        model: MODEL,
        messages: [{ role: 'user', content: PROMPT }],
        sampling: { temperature: 0 },
        max_tokens: 32,
      },
      { deadline: deadlineIn(30_000) },
    );
    assert.equal(result.code, grpc.status.OK, result.details);
    const { deltas, finish, id } = splitStream(result.messages);
    assert.match(id, /^chatcmpl-/);
    const content = deltas.map((m) => m.delta.content).join('');
    assert.ok(content.length > 0, 'some content was generated');
    assert.ok(['FINISH_REASON_STOP', 'FINISH_REASON_LENGTH'].includes(finish.finish_reason));
    assert.ok(finish.usage.prompt_tokens > 0);
    assert.ok(finish.usage.completion_tokens >= 1 && finish.usage.completion_tokens <= 32);
    assert.equal(
      finish.usage.total_tokens,
      finish.usage.prompt_tokens + finish.usage.completion_tokens,
    );
  });

  test('a stop string ends Complete and is reported as the finish\'s stop_sequence', { timeout: TEST_TIMEOUT_MS }, async () => {
    // llama.cpp's greedy continuation says where ' little' first appears.
    const stop = ' little';
    assert.ok(expected.includes(stop));
    const result = await runStream(client, 'Complete', greedyCompleteRequest({ stop: [stop, 'zzzz'] }), {
      deadline: deadlineIn(30_000),
    });
    assert.equal(result.code, grpc.status.OK, result.details);
    const { deltas, finish } = splitStream(result.messages);
    assert.equal(deltas.map((m) => m.delta.text).join(''), expected.slice(0, expected.indexOf(stop)));
    assert.equal(finish.finish_reason, 'FINISH_REASON_STOP');
    assert.equal(finish.stop_sequence, stop);
    // Without a stop string there is none to report.
    const plain = await runStream(client, 'Complete', greedyCompleteRequest({ max_tokens: 4 }), {
      deadline: deadlineIn(30_000),
    });
    assert.equal(splitStream(plain.messages).finish.stop_sequence, '');
  });

  test('the same seed gives the same sampled text', { timeout: TEST_TIMEOUT_MS }, async () => {
    const request = greedyCompleteRequest({
      sampling: { temperature: 0.9, top_p: 0.95, seed: 1234 },
      max_tokens: 40,
    });
    const texts = [];
    for (let i = 0; i < 2; ++i) {
      const result = await runStream(client, 'Complete', request, { deadline: deadlineIn(30_000) });
      assert.equal(result.code, grpc.status.OK, result.details);
      texts.push(splitStream(result.messages).deltas.map((m) => m.delta.text).join(''));
    }
    assert.ok(texts[0].length > 0);
    assert.equal(texts[1], texts[0]);
  });

  test('an out-of-range temperature is INVALID_ARGUMENT', { timeout: TEST_TIMEOUT_MS }, async () => {
    const chat = await runStream(
      client,
      'Chat',
      { model: MODEL, messages: [{ role: 'user', content: PROMPT }], sampling: { temperature: 5 } },
      { deadline: deadlineIn(10_000) },
    );
    assert.equal(chat.code, grpc.status.INVALID_ARGUMENT, chat.details);
    assert.match(chat.details, /temperature/);
    assert.equal(chat.messages.length, 0);

    const complete = await runStream(
      client,
      'Complete',
      greedyCompleteRequest({ sampling: { temperature: 5 } }),
      { deadline: deadlineIn(10_000) },
    );
    assert.equal(complete.code, grpc.status.INVALID_ARGUMENT, complete.details);
  });

  test('other bad values are INVALID_ARGUMENT too', { timeout: TEST_TIMEOUT_MS }, async () => {
    const bad = [
      { messages: [{ role: 'wizard', content: 'hi' }] },
      { messages: [] },
      { messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 },
      { messages: [{ role: 'user', content: 'hi' }], top_logprobs: 3 },
      { messages: [{ role: 'user', content: 'hi' }], stop: ['a', 'b', 'c', 'd', 'e'] },
      { messages: [{ role: 'user', content: 'hi' }], sampling: { top_p: 0 } },
      {
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ name: 'get_weather', parameters_json: '{"type":"object"}' }],
        tool_choice: { function_name: 'launch_rocket' },
      },
    ];
    for (const fields of bad) {
      const result = await runStream(
        client,
        'Chat',
        { model: MODEL, ...fields },
        { deadline: deadlineIn(10_000) },
      );
      assert.equal(result.code, grpc.status.INVALID_ARGUMENT, `${JSON.stringify(fields)}: ${result.details}`);
    }
  });

  test('an unknown model is NOT_FOUND', { timeout: TEST_TIMEOUT_MS }, async () => {
    const chat = await runStream(
      client,
      'Chat',
      { model: 'no-such-model', messages: [{ role: 'user', content: PROMPT }] },
      { deadline: deadlineIn(10_000) },
    );
    assert.equal(chat.code, grpc.status.NOT_FOUND, chat.details);
    const complete = await runStream(
      client,
      'Complete',
      { model: 'no-such-model', prompt: PROMPT },
      { deadline: deadlineIn(10_000) },
    );
    assert.equal(complete.code, grpc.status.NOT_FOUND, complete.details);
  });

  test('a passed deadline is DEADLINE_EXCEEDED and cancels the generation', { timeout: TEST_TIMEOUT_MS }, async () => {
    // A generation that runs until the context is full.
    const long = { model: MODEL, prompt: PROMPT, sampling: { temperature: 1, seed: 7 } };

    // A deadline of about 1 ms.
    const instant = await runStream(client, 'Complete', long, { deadline: deadlineIn(1) });
    assert.equal(instant.code, grpc.status.DEADLINE_EXCEEDED, instant.details);

    // A deadline that passes mid-generation: a quarter of the time the whole generation
    // takes on this machine, so the request surely reached the engine and was running.
    const started = Date.now();
    const full = await runStream(client, 'Complete', long, { deadline: deadlineIn(30_000) });
    const fullMs = Date.now() - started;
    assert.equal(full.code, grpc.status.OK, full.details);
    const fullDeltas = splitStream(full.messages).deltas.length;

    const before = await requestMetrics();
    const cut = await runStream(client, 'Complete', long, {
      deadline: deadlineIn(Math.max(5, Math.floor(fullMs / 4))),
    });
    assert.equal(cut.code, grpc.status.DEADLINE_EXCEEDED, `${cut.details} (full run ${fullMs} ms)`);
    assert.ok(cut.messages.length < fullDeltas, 'the stream stopped early');

    // The server finishes the request as cancelled, well before it would have ended.
    let after = await requestMetrics();
    for (let i = 0; i < 50 && (after.cancelled <= before.cancelled || after.running > 0); ++i) {
      await sleep(100);
      after = await requestMetrics();
    }
    assert.ok(after.cancelled > before.cancelled, `cancelled ${before.cancelled} -> ${after.cancelled}`);
    assert.equal(after.running, 0);

    // The cancelled generations must not disturb the next request.
    const next = await runStream(client, 'Complete', greedyCompleteRequest(), {
      deadline: deadlineIn(30_000),
    });
    assert.equal(next.code, grpc.status.OK, next.details);
    const text = splitStream(next.messages).deltas.map((m) => m.delta.text).join('');
    assert.equal(text, expected);
  });

  test('cancelling mid-stream ends the call as CANCELLED', { timeout: TEST_TIMEOUT_MS }, async () => {
    const result = await new Promise((resolve) => {
      const call = client.Complete(
        { model: MODEL, prompt: PROMPT, sampling: { temperature: 1, seed: 11 } },
        { deadline: deadlineIn(30_000) },
      );
      let received = 0;
      call.on('data', () => {
        received += 1;
        if (received === 1) call.cancel();
      });
      call.on('error', () => {});
      call.on('status', (status) => resolve({ code: status.code, received }));
    });
    assert.equal(result.code, grpc.status.CANCELLED);
    assert.ok(result.received >= 1);

    // And the server still answers.
    const again = await runStream(client, 'Complete', greedyCompleteRequest({ max_tokens: 8 }), {
      deadline: deadlineIn(30_000),
    });
    assert.equal(again.code, grpc.status.OK, again.details);
  });
});
