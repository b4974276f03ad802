import '@tensorflow/tfjs';
import { expect } from 'chai';
import { Balancer } from '../../../plugins/openai-engine/balancer.js';
import {
  ProtocolError,
  buildRequestBody,
  parseChoice,
  parseResponse,
} from '../../../plugins/openai-engine/protocol.js';
import { charTokenizer } from '../serve/doubles.js';
import { engineOptions } from './helpers.js';

const enc = charTokenizer.encode;
const tok = charTokenizer;

describe('rollout/openai protocol', () => {
  it('builds a completions body with token ids, sampling and vLLM extras', () => {
    const b = buildRequestBody(
      enc('hi'),
      3,
      { maxNewTokens: 7, temperature: 0.5, topP: 0.9, topK: 20, seed: 11, stop: ['</a>'], stopTokenIds: [5] },
      { ...engineOptions({ promptLogprobs: 0, extraBody: { min_p: 0.1 } }), model: 'm' },
      tok,
    );
    expect(b).to.deep.equal({
      model: 'm',
      n: 3,
      max_tokens: 7,
      prompt: [104, 105],
      logprobs: 0,
      temperature: 0.5,
      top_p: 0.9,
      top_k: 20,
      seed: 11,
      stop: ['</a>'],
      stop_token_ids: [5],
      include_stop_str_in_output: true,
      no_stop_trim: true,
      skip_special_tokens: false,
      return_token_ids: true,
      prompt_logprobs: 0,
      min_p: 0.1,
    });
  });

  it('builds a chat body from the decoded prompt, and text prompts on request', () => {
    const chat = buildRequestBody(
      enc('hi'),
      1,
      { maxNewTokens: 4 },
      { ...engineOptions({ api: 'chat', returnTokenIds: false, includeStopStrInOutput: false }), model: 'm' },
      tok,
    );
    expect(chat).to.deep.equal({
      model: 'm',
      n: 1,
      max_tokens: 4,
      messages: [{ role: 'user', content: 'hi' }],
      logprobs: true,
      skip_special_tokens: false,
    });
    // skipSpecialTokens: null leaves the field out, for servers that reject fields they do not know.
    expect(
      buildRequestBody(
        enc('hi'),
        1,
        { maxNewTokens: 4 },
        { ...engineOptions({ skipSpecialTokens: null }), model: 'm' },
        tok,
      ),
    ).to.not.have.property('skip_special_tokens');
    const text = buildRequestBody(
      enc('hi'),
      1,
      { maxNewTokens: 4 },
      { ...engineOptions({ promptFormat: 'text', logprobs: false }), model: 'm' },
      tok,
    );
    expect(text.prompt).to.equal('hi');
    expect(text).to.not.have.property('logprobs');
  });

  it("reads ids from vLLM's 'token_id:N' logprob tokens", () => {
    const c = parseChoice(
      {
        text: 'ab',
        finish_reason: 'length',
        logprobs: { tokens: ['token_id:97', 'token_id:98'], token_logprobs: [-1, -2] },
      },
      { maxNewTokens: 2 },
      tok,
    );
    expect(c).to.deep.equal({ tokenIds: [97, 98], text: 'ab', logProbs: [-1, -2], finishReason: 'length' });
  });

  it('checks ids read from logprob tokens and chat text like any other', () => {
    const lp = (tokens: string[]) => ({ tokens, token_logprobs: tokens.map(() => -1) });
    expect(() =>
      parseChoice(
        { text: 'ab', finish_reason: 'length', logprobs: lp(['token_id:97', 'token_id:999']) },
        { maxNewTokens: 2 },
        tok,
      ),
    ).to.throw(ProtocolError, /token id 999 is not in the vocabulary/);
    expect(() =>
      parseChoice(
        { text: 'abc', finish_reason: 'length', logprobs: lp(['token_id:97', 'token_id:98', 'token_id:99']) },
        { maxNewTokens: 2 },
        tok,
      ),
    ).to.throw(ProtocolError, /3 token ids for max_tokens 2/);
    expect(() => parseChoice({ message: { content: null }, finish_reason: 'stop' }, { maxNewTokens: 2 }, tok)).to.throw(
      ProtocolError,
      /text is null/,
    );
    expect(() => parseChoice({ finish_reason: 'stop' }, { maxNewTokens: 2 }, tok)).to.throw(
      ProtocolError,
      /text is missing/,
    );
    expect(() =>
      parseChoice({ text: 'a', finish_reason: 'length', token_ids: 'a' }, { maxNewTokens: 2 }, tok),
    ).to.throw(ProtocolError, /token_ids is not a list/);
  });

  it('puts back a stop string the server trimmed, without doubling ids that already hold it', () => {
    const params = { maxNewTokens: 9, stop: ['END'] };
    // Trimmed text, no ids: the stop string's ids are encoded locally with unknown log-probs.
    const a = parseChoice(
      { text: 'x', finish_reason: 'stop', stop_reason: 'END', logprobs: { tokens: ['x'], token_logprobs: [-0.5] } },
      params,
      tok,
    );
    expect(a).to.deep.include({ text: 'xEND', tokenIds: enc('xEND'), finishReason: 'stop', stopString: 'END' });
    expect(a.logProbs.slice(0, 1)).to.deep.equal([-0.5]);
    expect(a.logProbs.slice(1).every(Number.isNaN)).to.equal(true);
    // Trimmed text but sampled ids that include it (vLLM without include_stop_str_in_output).
    const b = parseChoice(
      { text: 'x', finish_reason: 'stop', stop_reason: 'END', token_ids: enc('xEND') },
      params,
      tok,
    );
    expect(b).to.deep.include({ text: 'xEND', tokenIds: enc('xEND') });
    // SGLang names the matched stop `matched_stop`; a numeric one is a stop token, i.e. EOS.
    expect(
      parseChoice({ text: 'xEND', finish_reason: 'stop', matched_stop: 'END' }, params, tok).finishReason,
    ).to.equal('stop');
    expect(parseChoice({ text: 'x', finish_reason: 'stop', matched_stop: 0 }, params, tok).finishReason).to.equal(
      'eos',
    );
    // A stop string the request did not send is the server's invention: appending it would add unsampled text.
    expect(() => parseChoice({ text: 'x', finish_reason: 'stop', stop_reason: 'STOP' }, params, tok)).to.throw(
      ProtocolError,
      /stopped on "STOP", a stop string that was not asked for/,
    );
  });

  it('takes re-encoded text within twice max_tokens plus a slack, and refuses more', () => {
    // 2 x 8 + 16 = 32 tokens of the char tokenizer: a different split, not a different answer.
    expect(
      parseChoice({ text: 'a'.repeat(32), finish_reason: 'length' }, { maxNewTokens: 8 }, tok).tokenIds,
    ).to.have.length(32);
    expect(() => parseChoice({ text: 'a'.repeat(33), finish_reason: 'length' }, { maxNewTokens: 8 }, tok)).to.throw(
      ProtocolError,
      /the text re-encodes to 33 tokens for max_tokens 8/,
    );
    // An empty logprob token list beside the text gives no ids: the text is re-encoded, not dropped.
    const empty = { tokens: [], token_logprobs: [] };
    expect(
      parseChoice({ text: 'ab', finish_reason: 'length', logprobs: empty }, { maxNewTokens: 8 }, tok).tokenIds,
    ).to.deep.equal(enc('ab'));
  });

  it('refuses answers that would lose or duplicate a sample', () => {
    const ch = (index: number) => ({ index, text: 'a', finish_reason: 'length' });
    expect(parseResponse({ choices: [ch(1), ch(0)] }, 2, { maxNewTokens: 1 }, tok).length).to.equal(2);
    expect(() => parseResponse({ choices: [ch(0), ch(0)] }, 2, { maxNewTokens: 1 }, tok)).to.throw(
      ProtocolError,
      /appears twice/,
    );
    expect(() => parseResponse({ choices: [ch(0), ch(2)] }, 2, { maxNewTokens: 1 }, tok)).to.throw(
      ProtocolError,
      /out of range/,
    );
    expect(() => parseResponse({ choices: [ch(0)] }, 2, { maxNewTokens: 1 }, tok)).to.throw(
      ProtocolError,
      /asked for 2 choices, got 1/,
    );
    expect(() => parseResponse({ error: 'x' }, 1, { maxNewTokens: 1 }, tok)).to.throw(ProtocolError, /no choices/);
    expect(() => parseResponse({ choices: [{ index: 0, text: 'a' }] }, 1, { maxNewTokens: 1 }, tok)).to.throw(
      ProtocolError,
      /no finish_reason/,
    );
  });
});

describe('rollout/openai balancer', () => {
  it('picks the least busy endpoint and keeps an affinity key on its endpoint', () => {
    const b = new Balancer(3, { cooldownMs: 100, affinityCacheSize: 10, now: () => 0 });
    expect(b.acquire(2)).to.equal(0);
    expect([b.acquire(1), b.acquire(1)].sort()).to.deep.equal([1, 2]);
    const x = b.acquire(1); // 1 and 2 tie at one sample each
    expect(x).to.be.oneOf([1, 2]);
    expect(b.acquire(1, 'traj')).to.equal(3 - x); // the only endpoint left with one sample
    expect(b.inFlight()).to.deep.equal([2, 2, 2]);
    b.release(0, 2);
    expect(b.acquire(1, 'traj')).to.equal(3 - x); // sticky even though 0 is now idle
    expect(b.acquire(1)).to.equal(0);
  });

  it('steers away from an endpoint that is down until its cool-down ends', () => {
    let now = 0;
    const b = new Balancer(2, { cooldownMs: 100, affinityCacheSize: 10, now: () => now });
    expect(b.acquire(1, 'k')).to.equal(0);
    b.release(0, 1);
    b.markDown(0);
    expect(b.acquire(1, 'k')).to.equal(1); // the trajectory moves
    b.release(1, 1);
    now = 150;
    expect(b.acquire(1)).to.equal(0);
  });

  it('forgets the oldest affinity keys beyond the cache size', () => {
    const b = new Balancer(2, { cooldownMs: 0, affinityCacheSize: 2, now: () => 0 });
    ['a', 'b', 'c'].forEach((k) => b.acquire(1, k));
    expect([b.endpointOf('a'), b.endpointOf('b'), b.endpointOf('c')]).to.deep.equal([undefined, 1, 0]);
  });
});

describe('rollout/openai options', () => {
  it('an old retry option name is told its new name (the same as the other HTTP clients)', async () => {
    const { fillOptions, RecipeError } = await import('../../../core/index.js');
    const { openAIRollout } = await import('../../../plugins/openai-engine/index.js');
    const opts = { urls: ['http://127.0.0.1:1'], model: 'm', maxRetries: 2, retryMaxMs: 10 };
    let err: unknown;
    try {
      fillOptions(openAIRollout, opts, 'components.engine.options');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(RecipeError);
    expect((err as Error).message).to.contain("maxRetries: unknown option 'maxRetries': it was renamed 'retries'.");
    expect((err as Error).message).to.contain(
      "retryMaxMs: unknown option 'retryMaxMs': it was renamed 'backoffMaxMs'.",
    );
    // other unknown names still get the closest allowed one
    expect(() => fillOptions(openAIRollout, { urls: ['http://127.0.0.1:1'], model: 'm', retris: 1 })).to.throw(
      "unknown option 'retris'. Did you mean 'retries'?",
    );
  });
});
