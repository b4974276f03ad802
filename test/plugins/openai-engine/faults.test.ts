// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { OpenAIRolloutEngine, RemoteEngineError } from '../../../plugins/openai-engine/engine.js';
import { charTokenizer } from '../serve/doubles.js';
import { parseChoice } from '../../../plugins/openai-engine/protocol.js';
import { deadUrl, echoText, FaultServer, type Fault, type Invalid } from './fault-server.js';
import { engineOptions, makeEngine } from './helpers.js';

const enc = charTokenizer.encode;
const params = { maxNewTokens: 8, temperature: 1 };

describe('rollout/openai against a fault-injecting server', () => {
  let a: FaultServer;
  let b: FaultServer;
  beforeEach(async () => {
    a = await new FaultServer('a').start();
    b = await new FaultServer('b').start();
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('maps each completion to its prompt, token ids and log-probs included', async () => {
    const e = makeEngine({ urls: [a.url] });
    const prompts = ['p0', 'p1', 'p2'].map(enc);
    const out = await e.generate(prompts, params, { affinityKeys: ['t0', 't1', 't2'] });
    expect(out.map((c) => c.text)).to.deep.equal(['p0#0', 'p1#0', 'p2#0']);
    expect(out[0]!.tokenIds).to.deep.equal(enc('p0#0'));
    expect(out[0]!.logProbs).to.deep.equal([-0.1, -0.2, -0.3, -0.4]);
    expect(out[0]!.finishReason).to.equal('length');
    // The model name came from GET /v1/models; prompts went as token ids.
    expect(a.received[0]!.body).to.deep.include({
      model: 'a-model',
      n: 1,
      max_tokens: 8,
      temperature: 1,
      prompt: enc('p0'),
      logprobs: 0,
      return_token_ids: true,
      skip_special_tokens: false,
      no_stop_trim: true,
    });
    await e.dispose();
  });

  it('sends the bearer token from the environment variable named by apiKeyEnv', async () => {
    const e = new OpenAIRolloutEngine(
      engineOptions({ urls: [a.url], model: 'm', apiKeyEnv: 'A0_KEY' }),
      charTokenizer,
      { env: { A0_KEY: 'sk-test' } },
    );
    await e.generate([enc('k')], params);
    expect(a.received[0]!.headers.authorization).to.equal('Bearer sk-test');
    expect(
      () =>
        new OpenAIRolloutEngine(engineOptions({ urls: [a.url], apiKeyEnv: 'A0_MISSING' }), charTokenizer, { env: {} }),
    ).to.throw(/apiKeyEnv names 'A0_MISSING', which is not set/);
    await e.dispose();
  });

  it('reloads weights on every server only when weightSync asks for it', async () => {
    expect(makeEngine({ urls: [a.url] }).loadWeights).to.equal(undefined);
    const e = makeEngine({ urls: [a.url, b.url], weightSync: 'from-disk' });
    await e.loadWeights!('/ckpt/step-3');
    expect([a.reloads, b.reloads]).to.deep.equal([['/ckpt/step-3'], ['/ckpt/step-3']]);
    b.refuseReload = true;
    const err = await e.loadWeights!('/ckpt/step-4').then(
      () => null,
      (x: Error) => x.message,
    );
    expect(err).to.equal(`rollout/openai: 1 of 2 servers did not load /ckpt/step-4: ${b.url}: no such folder`);
    await e.dispose();
  });

  it('re-encodes the text when the server returns no token ids', async () => {
    a.tokenIds = false;
    const e = makeEngine({ urls: [a.url] });
    const [c] = await e.generate([enc('zz')], params);
    expect(c!.tokenIds).to.deep.equal(enc('zz#0'));
    expect(c!.logProbs).to.deep.equal([-0.1, -0.2, -0.3, -0.4]);
    await e.dispose();
  });

  it('sends identical prompts without affinity keys as one request with n > 1', async () => {
    const e = makeEngine({ urls: [a.url] });
    const out = await e.generate([enc('x'), enc('y'), enc('x'), enc('x')], params);
    expect(out.map((c) => c.text)).to.deep.equal(['x#0', 'y#0', 'x#1', 'x#2']);
    expect(a.received.map((r) => r.n).sort()).to.deep.equal([1, 3]);
    await e.dispose();
  });

  for (const fault of ['500', '503', '429', 'malformed', 'drop', 'reset', 'short', 'hang'] as Fault[]) {
    it(`retries after '${fault}' and then succeeds, exactly once per sample`, async () => {
      a.faults = [fault, fault];
      // Only 'hang' needs the timeout; it must still leave a healthy answer ample time under load.
      const e = makeEngine({ urls: [a.url], timeoutMs: fault === 'hang' ? 600 : 60000 });
      const out = await e.generate([enc('q1'), enc('q2')], params, { affinityKeys: ['k1', 'k2'] });
      expect(out.map((c) => c.text)).to.deep.equal(['q1#0', 'q2#0']);
      expect(a.received).to.have.length(4);
      expect(a.served().sort()).to.deep.equal(['q1', 'q2']);
      expect(e.stats().retries).to.equal(2);
      await e.dispose();
    });
  }

  it('fails with a clear error when every attempt fails', async () => {
    a.faults = ['500', '503', '500'];
    const e = makeEngine({ urls: [a.url], retries: 2 });
    const err = await e.generate([enc('q')], params).then(
      () => null,
      (x: unknown) => x,
    );
    expect(err).to.be.instanceOf(RemoteEngineError);
    expect((err as RemoteEngineError).attempts).to.equal(3);
    expect((err as Error).message).to.match(
      /failed after 3 attempts; last error: POST http:\/\/127\.0\.0\.1:\d+\/v1\/completions: HTTP 500: injected 500/,
    );
    expect(a.received).to.have.length(3);
    await e.dispose();
  });

  it('does not retry a 4xx answer', async () => {
    a.faults = ['400'];
    const e = makeEngine({ urls: [a.url] });
    const err = await e.generate([enc('q')], params).then(
      () => null,
      (x: unknown) => x,
    );
    expect(err).to.be.instanceOf(RemoteEngineError);
    expect((err as RemoteEngineError).status).to.equal(400);
    expect((err as Error).message).to.match(/HTTP 400: injected 400 \(not retried\)/);
    expect(a.received).to.have.length(1);
    await e.dispose();
  });

  it('fails over from a refusing endpoint to a live one', async () => {
    const dead = await deadUrl();
    const e = makeEngine({ urls: [dead, a.url], model: 'm' });
    const prompts = Array.from({ length: 6 }, (_, i) => enc(`r${i}`));
    const out = await e.generate(prompts, params, { affinityKeys: prompts.map((_, i) => `t${i}`) });
    expect(out.map((c) => c.text)).to.deep.equal(prompts.map((p) => echoText(p, 0)));
    expect(a.served().sort()).to.deep.equal(prompts.map((p) => charTokenizer.decode(p)).sort());
    expect(e.stats().samples).to.deep.equal([0, 6]);
    await e.dispose();
  });

  it('moves off a hung server to another one and cools the hung one down', async () => {
    a.faults = ['hang'];
    const e = makeEngine({ urls: [a.url, b.url], model: 'm', timeoutMs: 400, cooldownMs: 60_000 });
    // The trajectory's first attempt goes to a (the first of two idle servers) and hangs.
    const [c] = await e.generate([enc('h')], params, { affinityKeys: ['traj'] });
    expect(c!.text).to.equal('h#0');
    expect([a.received.length, b.served()]).to.deep.equal([1, ['h']]);
    expect(e.endpointOf('traj')).to.equal(b.url);
    // a is cooling down: new work goes to b.
    await e.generate([enc('i'), enc('j')], params, { affinityKeys: ['t2', 't3'] });
    expect(a.received.length).to.equal(1);
    expect(b.served().sort()).to.deep.equal(['h', 'i', 'j']);
    await e.dispose();
  });

  for (const fault of ['stall', 'trickle'] as Fault[]) {
    it(`moves off a server whose answer ${fault === 'stall' ? 'stops after its first bytes' : 'trickles in a byte at a time'}, within the deadline`, async () => {
      a.faults = [fault];
      const e = makeEngine({ urls: [a.url, b.url], model: 'm', timeoutMs: 400, cooldownMs: 60_000 });
      const t0 = Date.now();
      const [c] = await e.generate([enc('s')], params, { affinityKeys: ['traj'] });
      expect(c!.text).to.equal('s#0');
      expect(Date.now() - t0).to.be.below(3000);
      expect([a.received.map((r) => r.fault), b.served()]).to.deep.equal([[fault], ['s']]);
      expect(e.endpointOf('traj')).to.equal(b.url);
      await e.dispose();
    });
  }

  const invalid: [Invalid, RegExp][] = [
    ['out-of-vocab', /token id 128 is not in the vocabulary \[0, 128\)/],
    ['negative-id', /token id -1 is not in the vocabulary/],
    ['fractional-id', /token id 118\.5 is not in the vocabulary/],
    ['too-many-ids', /50000 token ids for max_tokens 8/],
    ['null-text', /text is null, not a string/],
    ['positive-logprob', /log-prob 0 is 0\.5, not a finite number <= 0/],
    ['null-logprob', /log-prob 0 is null, not a finite number <= 0/],
    ['long-text', /the text re-encodes to 50000 tokens for max_tokens 8/],
    ['foreign-stop', /stopped on "a{40}\.\.\.", a stop string that was not asked for/],
  ];
  for (const [fault, message] of invalid) {
    it(`refuses an answer with ${fault} and gets the sample from another server`, async () => {
      a.faults = [fault];
      // Without a second server, the one attempt fails with the reason.
      const alone = makeEngine({ urls: [a.url], model: 'm', retries: 0 });
      const err = await alone.generate([enc('v')], params).then(
        () => null,
        (x: Error) => x.message,
      );
      expect(err).to.match(message);
      a.faults = [fault];
      // With one, the retry goes there, though the trajectory's affinity pointed at a.
      const e = makeEngine({ urls: [a.url, b.url], model: 'm', retries: 1 });
      const [c] = await e.generate([enc('v')], params, { affinityKeys: ['k'] });
      expect(c).to.deep.include({ text: 'v#0', tokenIds: enc('v#0') });
      expect(b.served()).to.deep.equal(['v']);
      expect(a.received.map((r) => r.fault)).to.deep.equal([fault, fault]);
      await Promise.all([alone.dispose(), e.dispose()]);
    });
  }

  it('accepts log-probs a rounding above zero, as zero', async () => {
    const c = parseChoice(
      {
        text: 'ab',
        finish_reason: 'length',
        token_ids: enc('ab'),
        logprobs: { tokens: ['a', 'b'], token_logprobs: [5e-5, -1] },
      },
      params,
      charTokenizer,
    );
    expect(c.logProbs).to.deep.equal([0, -1]);
  });

  it('cancels promptly through an AbortSignal', async () => {
    a.faults = ['hang'];
    const e = makeEngine({ urls: [a.url], model: 'm', timeoutMs: 60000 });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    const t0 = Date.now();
    const err = await e.generate([enc('q')], params, { signal: ctl.signal }).then(
      () => null,
      (x: unknown) => x,
    );
    expect((err as Error).name).to.equal('AbortError');
    expect(Date.now() - t0).to.be.below(2000);
    await e.dispose();
  });

  it('loses and duplicates nothing under random faults on two endpoints', async () => {
    // A fixed pseudo-random fault mix: a quarter of all attempts fail in some way.
    const kinds: Fault[] = ['500', 'malformed', 'drop', 'reset', 'short', '503'];
    let s = 12345;
    const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const mix = () =>
      Array.from({ length: 200 }, () => (rnd() < 0.25 ? kinds[Math.floor(rnd() * kinds.length)]! : 'ok'));
    a.faults = mix();
    b.faults = mix();
    a.delayMs = 2;
    const e = makeEngine({ urls: [a.url, b.url], model: 'm', retries: 8 });
    const prompts = Array.from({ length: 40 }, (_, i) => enc(`s${i % 30}`));
    const keys = prompts.map((_, i) => `traj-${i}`);
    const out = await e.generate(prompts, params, { affinityKeys: keys });
    expect(out.map((c) => c.text)).to.deep.equal(prompts.map((p) => echoText(p, 0)));
    const served = [...a.served(), ...b.served()].sort();
    expect(served).to.deep.equal(prompts.map((p) => charTokenizer.decode(p)).sort());
    const st = e.stats();
    expect(st.samples[0]! + st.samples[1]!).to.equal(40);
    expect(st.retries).to.be.above(0);
    expect(st.requests).to.equal(a.received.length + b.received.length);
    await e.dispose();
  });
});

describe('rollout/openai balancing and affinity', () => {
  let servers: FaultServer[];
  beforeEach(async () => {
    servers = await Promise.all([new FaultServer('a').start(), new FaultServer('b').start()]);
    for (const s of servers) s.delayMs = 30;
  });
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('spreads concurrent requests over the least busy endpoints', async () => {
    const e = makeEngine({ urls: servers.map((s) => s.url), model: 'm' });
    const prompts = Array.from({ length: 8 }, (_, i) => enc(`u${i}`));
    await e.generate(prompts, params, { affinityKeys: prompts.map((_, i) => `k${i}`) });
    expect(servers.map((s) => s.received.length)).to.deep.equal([4, 4]);
    await e.dispose();
  });

  it('keeps every turn of a trajectory on the endpoint of its first turn', async () => {
    const e = makeEngine({ urls: servers.map((s) => s.url), model: 'm' });
    const keys = ['t0', 't1', 't2', 't3', 't4'];
    const turn1 = keys.map((k) => enc(k));
    const c1 = await e.generate(turn1, params, { affinityKeys: keys });
    const where = keys.map((k) => e.endpointOf(k));
    // Turn 2 in a different order and with only some of the trajectories still running.
    const keys2 = ['t3', 't0', 't4'];
    const turn2 = keys2.map((k) => [...enc(k), ...c1[keys.indexOf(k)]!.tokenIds]);
    await e.generate(turn2, params, { affinityKeys: keys2 });
    expect(keys2.map((k) => e.endpointOf(k))).to.deep.equal(keys2.map((k) => where[keys.indexOf(k)]));
    for (const k of keys2) {
      const srv = servers.find((s) => s.url === e.endpointOf(k))!;
      expect(srv.received.filter((r) => charTokenizer.decode(r.prompt).startsWith(k)).length, k).to.equal(2);
    }
    await e.dispose();
  });
});
