// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import type { Completion, RolloutEngine, SamplingParams } from '../../../core/index.js';
import { TinyTokenizer } from '../../../core/index.js';
import { OpenAIRolloutEngine } from '../../../plugins/openai-engine/engine.js';
import type { OpenAIEngineOptions } from '../../../plugins/openai-engine/options.js';
import { BatchingEngine, createServer, listen, type RunningServer } from '../../../plugins/serve/public.js';
import { ScriptPolicy, TwoTurnLoop } from '../serve/doubles.js';
import { engineOptions } from './helpers.js';
import { PeerServer, peerLogProb, type PeerKind } from './peers.js';

/**
 * Keeps the "peer / route / field / supported" table of docs/scaling.md true: every row has a
 * check here that holds exactly when the row says what it says, and every check has its row.
 */
const DOC = fileURLToPath(new URL('../../../docs/scaling.md', import.meta.url));

interface Row {
  key: string;
  supported: boolean;
}

function docRows(): Row[] {
  const text = readFileSync(DOC, 'utf8');
  const lines = text.split('\n');
  const head = lines.findIndex((l) => /^\|\s*peer\s*\|\s*route\s*\|\s*field\s*\|\s*supported\s*\|/.test(l));
  if (head < 0) throw new Error('docs/scaling.md has no "peer | route | field | supported" table');
  const rows: Row[] = [];
  for (const line of lines.slice(head + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.replace(/`/g, '').trim());
    const [peer, route, field, supported] = cells as [string, string, string, string];
    rows.push({ key: `${peer} | ${route} | ${field}`, supported: /^yes\b/i.test(supported) });
  }
  return rows;
}

// A tokenizer with special tokens (<pad> 0, <eos> 1, <unk> 2) and one multi-character word, so
// text re-encoded by the engine can differ from what was sampled ('S','T','O','P' vs 'STOP').
const tok = new TinyTokenizer({ words: ['STOP'] });
const chars = (s: string): number[] => [...s].map((ch) => tok.encode(ch)[0]!);
const WORD = tok.encode('STOP')[0]!;
const EOS = 1;
const UNK = 2;
const stopParams: SamplingParams = { maxNewTokens: 16, temperature: 0, stop: ['STOP'] };

/** One generate() against a fresh peer; the peer's received bodies come back too. */
async function onPeer(
  kind: PeerKind,
  script: number[],
  params: SamplingParams,
  o: { returnsTokenIds?: boolean; engine?: Partial<OpenAIEngineOptions> } = {},
) {
  const peer = await new PeerServer(kind, tok, script).start();
  peer.returnsTokenIds = o.returnsTokenIds ?? true;
  const engine = new OpenAIRolloutEngine(engineOptions({ urls: [peer.url], ...o.engine }), tok);
  try {
    const [c] = await engine.generate([chars('hi')], params);
    return { c: c as Completion, body: peer.received[0] as Record<string, unknown> };
  } finally {
    await engine.dispose();
    await peer.close();
  }
}

const finite = (c: Completion) => c.logProbs.every(Number.isFinite);

/** A policy on the tiny tokenizer that writes 'a', <unk>, 'b', then EOS (serve's special-token handling). */
const specials: RolloutEngine = {
  tokenizer: tok,
  async generate(prompts) {
    const ids = [chars('a')[0]!, UNK, chars('b')[0]!, EOS];
    return prompts.map(() => ({
      tokenIds: ids,
      text: tok.decode(ids),
      logProbs: ids.map(() => -1),
      finishReason: 'eos',
    }));
  },
};

describe('peers: the docs/scaling.md support table', () => {
  let srv: RunningServer;
  let special: RunningServer;
  let client: OpenAI;
  let specialClient: OpenAI;
  const loaded: string[] = [];

  before(async () => {
    const loadWeights = async (dir: string) => {
      if (dir.includes('missing')) {
        const e = new Error(`ENOENT: no such file or directory, open '${dir}/config.json'`);
        e.stack = `Error: ${e.message}\n    at async TfjsPolicy.load (/srv/agent0/policy.ts:1:1)`;
        throw e;
      }
      loaded.push(dir);
    };
    srv = await listen(
      createServer({
        engine: new BatchingEngine(new ScriptPolicy(), { windowMs: 1, maxRows: 64 }),
        modelName: 'script',
        loop: new TwoTurnLoop(),
        limits: { maxTokens: 256, maxN: 8 },
        loadWeights,
      }),
      '127.0.0.1',
      0,
    );
    special = await listen(
      createServer({ engine: specials, modelName: 'special', limits: { maxTokens: 16, maxN: 2 } }),
      '127.0.0.1',
      0,
    );
    client = new OpenAI({ baseURL: srv.url, apiKey: 'x', maxRetries: 0 });
    specialClient = new OpenAI({ baseURL: special.url, apiKey: 'x', maxRetries: 0 });
  });
  after(async () => {
    await srv.close();
    await special.close();
  });

  const refused = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e,
    );
  const serveText = async (extra: Record<string, unknown>) =>
    (
      (await client.completions.create({
        model: 'script',
        prompt: 'hi',
        max_tokens: 64,
        temperature: 0,
        stop: ['STOP'],
        ...extra,
      } as never)) as OpenAI.Completion
    ).choices[0]!.text;

  /** Each check holds exactly when its row's "supported" is true (a "no" row checks the refusal or the gap). */
  const checks: Record<string, (supported: boolean) => Promise<void>> = {
    'vLLM | POST /v1/completions | prompt (token ids)': async (yes) => {
      const { body } = await onPeer('vllm', chars('ab'), { maxNewTokens: 2 });
      expect(body.prompt).to.deep.equal(chars('hi'));
      const r = await client.completions.create({ model: 'script', prompt: [104, 105], max_tokens: 2, temperature: 0 });
      expect(r.choices[0]!.text === 'ab').to.equal(yes);
    },
    'vLLM | POST /v1/completions | return_token_ids': async (yes) => {
      // Re-encoding 'abSTOP' would give 3 ids; the sampler drew 6.
      const { c } = await onPeer('vllm', chars('abSTOPcd'), stopParams);
      expect(c.tokenIds.join() === chars('abSTOP').join() && finite(c)).to.equal(yes);
      const r = (await client.completions.create({
        model: 'script',
        prompt: 'hi',
        max_tokens: 2,
        temperature: 0,
        return_token_ids: true,
      } as never)) as OpenAI.Completion;
      expect((r.choices[0] as unknown as { token_ids?: number[] }).token_ids).to.deep.equal([97, 98]);
    },
    'vLLM | POST /v1/completions | include_stop_str_in_output': async (yes) => {
      const { c, body } = await onPeer('vllm', [...chars('ab'), WORD, ...chars('c')], stopParams, {
        returnsTokenIds: false,
      });
      expect(body.include_stop_str_in_output).to.equal(true);
      expect(c).to.deep.include({
        text: 'abSTOP',
        tokenIds: [...chars('ab'), WORD],
        stopString: 'STOP',
        finishReason: 'stop',
      });
      expect(c.logProbs).to.deep.equal([0, 1, 2].map(peerLogProb));
      expect((await serveText({ include_stop_str_in_output: true })) === 'abc def STOP').to.equal(yes);
      expect(await serveText({})).to.equal('abc def ');
    },
    'vLLM | POST /v1/completions | skip_special_tokens': async (yes) => {
      // Without ids from the server, the EOS id survives only if its text does.
      const { c, body } = await onPeer('vllm', [...chars('ab'), EOS], { maxNewTokens: 8 }, { returnsTokenIds: false });
      expect(body.skip_special_tokens).to.equal(false);
      expect(c.tokenIds.join() === [...chars('ab'), EOS].join() && c.finishReason === 'eos' && finite(c)).to.equal(yes);
      const ask = (extra: Record<string, unknown>) =>
        specialClient.completions.create({
          model: 'special',
          prompt: 'x',
          max_tokens: 8,
          ...extra,
        } as never) as Promise<OpenAI.Completion>;
      expect((await ask({})).choices[0]!.text).to.equal('ab');
      expect((await ask({ skip_special_tokens: false })).choices[0]!.text).to.equal('a<unk>b');
      expect((await ask({ skip_special_tokens: false, include_stop_str_in_output: true })).choices[0]!.text).to.equal(
        'a<unk>b<eos>',
      );
    },
    'vLLM | POST /v1/completions | logprobs': async (yes) => {
      const { c, body } = await onPeer('vllm', chars('ab'), { maxNewTokens: 2 });
      expect(body.logprobs).to.equal(0);
      expect(c.logProbs.join() === [0, 1].map(peerLogProb).join()).to.equal(yes);
    },
    'SGLang | POST /v1/completions | return_token_ids': async (yes) => {
      const { c, body } = await onPeer('sglang', chars('abSTOPcd'), stopParams);
      expect(body.return_token_ids).to.equal(true);
      expect(c.tokenIds.join() === chars('abSTOP').join() && finite(c)).to.equal(yes);
      // The docs once said the opposite and had SGLang users turn the option off.
      expect(/SGLang does not\s+return sampled ids/.test(readFileSync(DOC, 'utf8'))).to.equal(!yes);
    },
    'SGLang | POST /v1/completions | include_stop_str_in_output': async (yes) => {
      // Alone, SGLang's answer is trimmed: that is why rollout/openai sends no_stop_trim as well.
      const { c } = await onPeer('sglang', [...chars('ab'), WORD], stopParams, {
        returnsTokenIds: false,
        engine: { extraBody: { no_stop_trim: false } },
      });
      expect(finite(c)).to.equal(yes);
    },
    'SGLang | POST /v1/completions | no_stop_trim': async (yes) => {
      const { c, body } = await onPeer('sglang', [...chars('ab'), WORD, ...chars('c')], stopParams, {
        returnsTokenIds: false,
      });
      expect(body.no_stop_trim).to.equal(true);
      expect(c).to.deep.include({ text: 'abSTOP', tokenIds: [...chars('ab'), WORD], stopString: 'STOP' });
      expect(c.logProbs.join() === [0, 1, 2].map(peerLogProb).join()).to.equal(yes);
      expect(await serveText({ no_stop_trim: true })).to.equal('abc def STOP');
    },
    'SGLang | POST /v1/completions | skip_special_tokens': async (yes) => {
      const { c, body } = await onPeer(
        'sglang',
        [...chars('ab'), EOS],
        { maxNewTokens: 8 },
        { returnsTokenIds: false },
      );
      expect(body.skip_special_tokens).to.equal(false);
      expect(c.tokenIds.join() === [...chars('ab'), EOS].join() && c.finishReason === 'eos' && finite(c)).to.equal(yes);
    },
    'SGLang | POST /v1/completions | matched_stop': async (yes) => {
      const { c } = await onPeer('sglang', chars('abSTOP'), stopParams);
      const eos = (await onPeer('sglang', [...chars('ab'), EOS], { maxNewTokens: 8 })).c;
      expect(c.stopString === 'STOP' && c.finishReason === 'stop' && eos.finishReason === 'eos').to.equal(yes);
    },
    'SGLang | POST /update_weights_from_disk | model_path': async (yes) => {
      const engine = new OpenAIRolloutEngine(engineOptions({ urls: [srv.url], weightSync: 'from-disk' }), tok);
      try {
        await engine.loadWeights!('/ckpt/step-1');
        expect(loaded.includes('/ckpt/step-1')).to.equal(yes);
        const err = (await refused(engine.loadWeights!('/ckpt/missing'))) as Error;
        expect(err.message).to.include(
          "could not load /ckpt/missing: ENOENT: no such file or directory, open '/ckpt/missing/config.json'",
        );
        expect(err.message).to.not.match(/\n|policy\.ts/);
      } finally {
        await engine.dispose();
      }
    },
    'OpenAI | GET /v1/models/{model} | model': async (yes) => {
      expect((await refused(client.models.retrieve('script'))) === null).to.equal(yes);
      expect(await refused(client.models.retrieve('other'))).to.be.instanceOf(OpenAI.NotFoundError);
    },
    'OpenAI | POST /v1/chat/completions | messages[].role: developer': async (yes) => {
      const r = await refused(
        client.chat.completions.create({
          model: 'script',
          messages: [{ role: 'developer', content: 'x' }],
          max_tokens: 1,
        }),
      );
      expect(r === null).to.equal(yes);
    },
    'OpenAI | POST /v1/chat/completions | top_logprobs': async (yes) => {
      const r = await client.chat.completions.create({
        model: 'script',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 1,
        temperature: 0,
        logprobs: true,
        top_logprobs: 2,
      });
      expect(r.choices[0]!.logprobs!.content![0]!.top_logprobs.length === 2).to.equal(yes);
    },
    'OpenAI | POST /v1/completions | logprobs': async (yes) => {
      const r = await client.completions.create({
        model: 'script',
        prompt: 'x',
        max_tokens: 1,
        temperature: 0,
        logprobs: 2,
      });
      // The sampled 'a' is the most likely of the scripted policy's alternatives ('a', '?', '!').
      expect(Object.keys(r.choices[0]!.logprobs!.top_logprobs![0]!).join() === 'a,?').to.equal(yes);
    },
    'OpenAI | POST /v1/chat/completions | response_format': async (yes) => {
      const err = await refused(
        client.chat.completions.create({
          model: 'script',
          messages: [{ role: 'user', content: 'JSON' }],
          max_tokens: 1,
          response_format: { type: 'json_object' },
        }),
      );
      expect(err === null).to.equal(yes);
      expect(err).to.be.instanceOf(OpenAI.BadRequestError);
    },
    'OpenAI | POST /v1/chat/completions | stream': async (yes) => {
      let text = '';
      for await (const chunk of await client.chat.completions.create({
        model: 'script',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 3,
        temperature: 0,
        stream: true,
      }))
        text += chunk.choices[0]?.delta.content ?? '';
      expect(text === 'abc').to.equal(yes);
    },
    'OpenAI | POST /v1/completions | stream': async (yes) => {
      const lps: number[] = [];
      for await (const chunk of await client.completions.create({
        model: 'script',
        prompt: 'x',
        max_tokens: 3,
        temperature: 0,
        logprobs: 0,
        stream: true,
      }))
        lps.push(...((chunk.choices[0]?.logprobs?.token_logprobs ?? []) as number[]));
      expect(lps.length === 3).to.equal(yes);
    },
  };

  // Read while mocha collects tests: a missing table fails the first test, not the whole run.
  let rows: Row[] = [];
  let unreadable: Error | undefined;
  try {
    rows = docRows();
  } catch (e) {
    unreadable = e as Error;
  }

  it('has a check for every row and a row for every check', () => {
    if (unreadable) throw unreadable;
    expect(rows.map((r) => r.key).sort()).to.deep.equal(Object.keys(checks).sort());
  });

  for (const row of rows) {
    it(`${row.key}: ${row.supported ? 'yes' : 'no'}`, async () => {
      const check = checks[row.key];
      if (!check) throw new Error(`no check for the row '${row.key}'`);
      await check(row.supported);
    });
  }
});
