import { expect } from 'chai';
import type { RewardResult, RewardSample } from '../../../core/index.js';
import { testReward } from '../../../core/testkit/index.js';
import { buildReward, numberVerifier, sample, traj, validates } from './helpers.js';

const close = (got: (number | null)[], want: (number | null)[], tol = 1e-12) => {
  expect(got.length).to.equal(want.length);
  got.forEach((g, i) => {
    const w = want[i];
    if (w === null) expect(g, `sample ${i}`).to.equal(null);
    else expect(Math.abs((g as number) - (w as number)), `sample ${i}: got ${g}, want ${w}`).to.be.at.most(tol);
  });
};
const rewardsOf = (r: RewardResult[]) => r.map((x) => x.reward);

describe('reward/outcome', () => {
  const gold = { answer: '5' };

  it('scores correct / wrong / unparsable with the ToRL defaults 1 / -1 / -1', async () => {
    const r = await buildReward('outcome');
    const got = await r.score([
      sample('so the answer is \\boxed{5}', gold),
      sample('\\boxed{5.0}', gold), // equal as numbers under the verifier
      sample('\\boxed{4}', gold),
      sample('I give up', gold),
    ]);
    close(rewardsOf(got), [1, 1, -1, -1]);
    expect(got[2]?.parts).to.include({ correct: 0, parsed: 1, format: 1 });
    expect(got[3]?.parts).to.include({ correct: 0, parsed: 0 });
  });

  it('uses the configured values and drops samples without a reference', async () => {
    const r = await buildReward('outcome', { correct: 1, wrong: 0, unparsable: -0.5 });
    close(
      rewardsOf(
        await r.score([
          sample('\\boxed{5}', gold),
          sample('\\boxed{7}', gold),
          sample('none', gold),
          sample('\\boxed{5}', {}),
        ]),
      ),
      [1, 0, -0.5, null],
    );
    const w = await buildReward('outcome', { missingReference: 'wrong', wrong: -2 });
    close(rewardsOf(await w.score([sample('\\boxed{5}', {}), sample('no answer', {})])), [-2, -1]);
  });

  it('applies the format pattern, stop reasons and the tool-error penalty', async () => {
    const r = await buildReward('outcome', {
      formatPattern: '^<think>.*</think>',
      formatFailure: -3,
      allowedStopReasons: ['answer', 'eos'],
      toolErrorPenalty: 0.5,
    });
    const got = await r.score([
      sample('<think>x\ny</think> \\boxed{5}', gold),
      sample('\\boxed{5}', gold),
      sample('<think></think>\\boxed{5}', gold, { trajectory: traj({ stopReason: 'max_turns' }) }),
      sample('<think></think>\\boxed{5}', gold, { trajectory: traj({ toolErrors: 2 }) }),
      sample('<think></think>\\boxed{4}', gold, { trajectory: traj({ toolErrors: 1 }) }),
    ]);
    close(rewardsOf(got), [1, -3, -3, 0.5, -1.5]);
  });

  it('reads only the tail when tailChars is set', async () => {
    const r = await buildReward('outcome', { tailChars: 10 });
    close(
      rewardsOf(
        await r.score([sample(`\\boxed{5}${' '.repeat(20)}`, gold), sample(`${'x'.repeat(50)}\\boxed{5}`, gold)]),
      ),
      [-1, 1],
    );
  });

  it('rejects bad options with a clear error', async () => {
    expect(validates('outcome', { correct: 'yes' })).to.equal(false);
    expect(validates('outcome', { nope: 1 })).to.equal(false);
    let err = '';
    try {
      await buildReward('outcome', { formatPattern: '(' });
    } catch (e) {
      err = (e as Error).message;
    }
    expect(err).to.match(/formatPattern is not a valid regular expression/);
  });
});

testReward('reward/outcome (defaults)', () => buildReward('outcome'), {
  batches: [
    {
      batch: [
        sample('\\boxed{3}', { answer: '3' }),
        sample('\\boxed{2}', { answer: '3' }),
        sample('?', { answer: '3' }),
        sample('\\boxed{3}'),
      ],
      expected: [1, -1, -1, null],
    },
  ],
});

describe('reward/tool-use', () => {
  it('pays weight x min(calls, cap) from the trajectory, else from ```output markers', async () => {
    const r = await buildReward('tool-use', { weight: 0.1, cap: 3 });
    const got = await r.score([
      sample('', {}, { trajectory: traj({ toolCalls: 0 }) }),
      sample('', {}, { trajectory: traj({ toolCalls: 2 }) }),
      sample('```output\n1\n``` and ```output\n2\n```', {}, { trajectory: traj({ toolCalls: 5 }) }),
      sample('```output\n1\n``` and ```output\n2\n```'),
      sample('```output ```output ```output ```output ```output'),
    ]);
    close(rewardsOf(got), [0, 0.2, 0.3, 0.2, 0.3]);
    expect(got[2]?.parts?.toolCalls).to.equal(5);
  });

  it('uses the Agent0 defaults 0.05 and 4, and can count text or trajectory only', async () => {
    const d = await buildReward('tool-use');
    close(rewardsOf(await d.score([sample('', {}, { trajectory: traj({ toolCalls: 9 }) })])), [0.2]);
    const text = await buildReward('tool-use', { count: 'text', pattern: '<calc>' });
    close(
      rewardsOf(await text.score([sample('<calc>1</calc><calc>2</calc>', {}, { trajectory: traj({ toolCalls: 0 }) })])),
      [0.1],
    );
    const t = await buildReward('tool-use', { count: 'trajectory' });
    let err = '';
    try {
      await t.score([sample('```output')]);
    } catch (e) {
      err = (e as Error).message;
    }
    expect(err).to.match(/needs RewardSample.trajectory/);
  });
});

/**
 * A batch of four proposals worked by hand (B = 4):
 *  s0 "What is 2 + 3 ?", own answer 5; executor: 5,5,5,5.0,5 | 4,4,4 | null | x → majority 5 (5 of k = 10)
 *  s1 the same question, own answer 6; executor 5,5,5,5 → p = 1, but 5 ≠ 6
 *  s2 "Find the product of 7 and 8 , then add 1 ." own 57; executor 57, null, null, null → "no answer"
 *     wins the code's vote (3 of 4) and never equals 57, so p = 0; the paper's vote leaves it out: p = 1/4
 *  s3 unparsable (no <question>)
 * BLEU(s0, s1) = 1 (distance 0); s2 shares no unigram with s0/s1 (distance 1); s3 is '' (distance 1):
 * clusters {s0, s1}, {s2}, {s3} → R_rep = 2/4, 2/4, 1/4, 1/4.
 */
function handBatch(): RewardSample[] {
  const q0 = 'What is 2 + 3 ?';
  const q2 = 'Find the product of 7 and 8 , then add 1 .';
  const ev = (
    question: string | null,
    ownAnswer: string | null,
    executorAnswers: (string | null)[],
    executorToolCalls: number[],
    curriculumToolCalls: number,
  ) => ({ question, ownAnswer, executorAnswers, executorToolCalls, curriculumToolCalls });
  return [
    sample(
      `<question>${q0}</question> \\boxed{5}`,
      {},
      { extra: ev(q0, '5', ['5', '5', '4', '5', '5.0', null, '4', '4', '5', 'x'], [1, 0, 1, 0, 1, 0, 1, 0, 1, 0], 2) },
    ),
    sample(`<question>${q0}</question> \\boxed{6}`, {}, { extra: ev(q0, '6', ['5', '5', '5', '5'], [2, 2, 2, 2], 6) }),
    sample(
      `<question>${q2}</question> \\boxed{57}`,
      {},
      { extra: ev(q2, '57', ['57', null, null, null], [0, 0, 0, 0], 0) },
    ),
    sample('Here is a problem: what is 1+1', {}, { extra: ev(null, null, [], [], 1) }),
  ];
}

describe('reward/curriculum', () => {
  it('code variant: min(p, 1-p) gated on the own answer, - |cluster|/B, + 0.05 min(curriculum calls, 4); unparsable -1 - R_rep + R_tool', async () => {
    const r = await buildReward('curriculum');
    const got = await r.score(handBatch());
    // s0: 0.5 - 0.5 + 0.1; s1: 0 - 0.5 + 0.2; s2: 0 - 0.25 + 0; s3: -1 - 0.25 + 0.05
    close(rewardsOf(got), [0.1, -0.3, -0.25, -1.2]);
    expect(got[0]?.parts).to.deep.include({
      format: 1,
      selfConsistency: 0.5,
      uncertainty: 0.5,
      repetition: 0.5,
      toolCalls: 2,
    });
    expect(got[1]?.parts).to.deep.include({ selfConsistency: 0, uncertainty: 0, toolCalls: 6 });
    expect(got[3]?.parts).to.deep.include({ format: 0, repetition: 0.25 });
  });

  it('paper variant: R_format * max(0, (1 - 2|p - 0.5|) + 0.6 min(mean executor calls, 4) - R_rep), format failures -1', async () => {
    const r = await buildReward('curriculum', { variant: 'paper' });
    // s0: p 0.5 → 1, tool 0.6*0.5 = 0.3, rep 0.5 → 0.8; s1: p 1 → 0, tool 0.6*2, rep 0.5 → 0.7; s2: p 0.25 → 0.5 - 0.25
    close(rewardsOf(await r.score(handBatch())), [0.8, 0.7, 0.25, -1]);
  });

  it('clamps the paper total at 0 and lets each term be switched for the ablations', async () => {
    const noTool = await buildReward('curriculum', { variant: 'paper', toolWeight: 0 });
    close(rewardsOf(await noTool.score(handBatch())), [0.5, 0, 0.25, -1]); // s1: max(0, 0 - 0.5)
    const noRep = await buildReward('curriculum', { repetition: false });
    close(rewardsOf(await noRep.score(handBatch())), [0.6, 0.2, 0, -0.95]);
    const flat = await buildReward('curriculum', { formatFailureFlat: true, formatFailure: -2 });
    close(rewardsOf(await flat.score(handBatch())), [0.1, -0.3, -0.25, -2]);
    const tent = await buildReward('curriculum', { uncertainty: 'tent', ownAnswerGate: false });
    // s1 ungated: p = 1 → 0; s0: 1 - 0.5 + 0.1; s2: "no answer" wins, p = 3/4 → 0.5 - 0.25
    close(rewardsOf(await tent.score(handBatch())), [0.6, -0.3, 0.25, -1.2]);
  });

  it('gates p at minShare strictly, ignores unanswered samples on request, and needs the own answer', async () => {
    const q = 'How many primes are below 10 ?';
    const e = (ownAnswer: string | null, executorAnswers: (string | null)[]) =>
      sample('', {}, { extra: { question: q, ownAnswer, executorAnswers, curriculumToolCalls: 0 } });
    const ten = ['4', '1', '2', '3', '5', '6', '7', '8', '9', '0'];
    const base = { repetition: false };
    const r = await buildReward('curriculum', base);
    // p = 1/10 is not > 0.1 → 0; p = 0.2 passes; own answer missing → format failure
    close(rewardsOf(await r.score([e('4', ten), e('4', ['4', '4', ...ten.slice(1, 9)]), e(null, ten)])), [0, 0.2, -1]);
    const ignore = await buildReward('curriculum', { ...base, unanswered: 'ignore' });
    close(rewardsOf(await ignore.score([e('4', ['4', null, null, null, '4', '3'])])), [1 / 3]); // 2 of 3 answered → min(2/3, 1/3)
    // four unanswered of seven win the released code's vote (p = 0); counted in k only: 2 of k = 7
    close(rewardsOf(await r.score([e('4', ['4', null, null, null, null, '4', '3'])])), [0]);
    const count = await buildReward('curriculum', { ...base, unanswered: 'count' });
    close(rewardsOf(await count.score([e('4', ['4', null, null, null, null, '4', '3'])])), [2 / 7]);
    const loose = await buildReward('curriculum', { ...base, requireOwnAnswer: false, ownAnswerGate: false });
    close(rewardsOf(await loose.score([e(null, ['4', '4', '4', '1'])])), [0.25]);
  });

  it('falls back to the trajectory, then the text, for the curriculum tool calls', async () => {
    const r = await buildReward('curriculum', { repetition: false });
    const ex = { question: 'q', ownAnswer: '1', executorAnswers: ['2'] };
    close(
      rewardsOf(
        await r.score([
          sample('', {}, { extra: ex, trajectory: traj({ toolCalls: 3 }) }),
          sample('```output\n1\n```\n```output\n2\n```', {}, { extra: ex }),
        ]),
      ),
      [0.15, 0.1],
    );
  });

  it('explains missing or malformed evidence', async () => {
    const r = await buildReward('curriculum');
    for (const [extra, msg] of [
      [undefined, /no extra evidence/],
      [{ question: 3, executorAnswers: [] }, /question must be a string or null/],
      [{ question: 'q' }, /executorAnswers must be an array/],
    ] as const) {
      let err = '';
      try {
        await r.score([sample('', {}, { extra: extra as Record<string, unknown> | undefined })]);
      } catch (e) {
        err = (e as Error).message;
      }
      expect(err).to.match(msg);
    }
    expect(validates('curriculum', { variant: 'both' })).to.equal(false);
    expect(validates('curriculum', { distanceThreshold: 0 })).to.equal(false);
  });

  it('groups the executor answers through the verifier, not by string', async () => {
    numberVerifier.calls = 0;
    const r = await buildReward('curriculum', { repetition: false, toolWeight: 0 });
    const x = { question: 'q', ownAnswer: '0.5', curriculumToolCalls: 0 };
    // '1/2' is not a number to this verifier, '.5' and '0.50' are: class {0.5, .5, 0.50} = 3 of 4
    close(
      rewardsOf(await r.score([sample('', {}, { extra: { ...x, executorAnswers: ['0.5', '.5', '1/2', '0.50'] } })])),
      [0.25],
    );
    expect(numberVerifier.calls).to.be.greaterThan(0);
  });
});

testReward('reward/curriculum (code)', () => buildReward('curriculum'), {
  batches: [{ batch: handBatch(), expected: [0.1, -0.3, -0.25, -1.2] }],
  tolerance: 1e-12,
});

describe('reward/sum', () => {
  it('adds weighted terms, keeps their parts and propagates drops', async () => {
    const outcome = await buildReward('outcome', { wrong: 0, unparsable: 0 });
    const tools = await buildReward('tool-use', { weight: 0.1, cap: 4 });
    const r = await buildReward(
      'sum',
      { terms: [{ reward: 'outcome' }, { reward: 'tools', weight: 0.5 }] },
      { outcome, tools },
    );
    const got = await r.score([
      sample('\\boxed{5}', { answer: '5' }, { trajectory: traj({ toolCalls: 2 }) }),
      sample('\\boxed{4}', { answer: '5' }, { trajectory: traj({ toolCalls: 6 }) }),
      sample('\\boxed{4}', {}, { trajectory: traj({ toolCalls: 1 }) }),
    ]);
    close(rewardsOf(got), [1.1, 0.2, null]);
    expect(got[0]?.parts).to.deep.include({ outcome: 1, tools: 0.2, 'outcome.correct': 1, 'tools.toolCalls': 2 });
    const zero = await buildReward(
      'sum',
      { terms: [{ reward: 'outcome' }, { reward: 'tools', weight: 0.5 }], nullAs: 'zero' },
      { outcome, tools },
    );
    close(rewardsOf(await zero.score([sample('\\boxed{4}', {}, { trajectory: traj({ toolCalls: 1 }) })])), [0.05]);
    expect(validates('sum', {})).to.equal(false);
  });
});
