import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { executorMajority, type Unanswered } from '../../../plugins/rewards/components/curriculum.js';
import { buildReward, numberVerifier, sample } from './helpers.js';

// Vectors from test/fixtures/fidelity/make_vectors.py: `class` is Agent0's consolidate_and_grade (an
// unanswered rollout is mathruler's "None", an answer class of its own); `count` and `ignore` leave
// unanswered rollouts out of the vote, with and without them in k. Same inputs for all three.
type Expected = { majority: string | null; p: number; pGated: number; uncertainty: number };
const V = JSON.parse(readFileSync(new URL('../../fixtures/fidelity/vectors.json', import.meta.url), 'utf8')) as {
  curriculum: {
    name: string;
    executorAnswers: (string | null)[];
    ownAnswer: string;
    expected: Record<Unanswered, Expected>;
  }[];
};

const evidence = (c: (typeof V.curriculum)[number]) =>
  sample(
    '',
    {},
    { extra: { question: 'q', ownAnswer: c.ownAnswer, executorAnswers: c.executorAnswers, curriculumToolCalls: 0 } },
  );
const modes: Unanswered[] = ['class', 'count', 'ignore'];

describe('fidelity: the curriculum self-consistency with unanswered executor rollouts', () => {
  for (const c of V.curriculum) {
    it(`${c.name}: class / count / ignore`, async () => {
      for (const mode of modes) {
        const want = c.expected[mode];
        const maj = await executorMajority(numberVerifier, c.executorAnswers, mode);
        expect(maj.answer, `${mode} majority`).to.equal(want.majority);
        expect(maj.k === 0 ? 0 : maj.count / maj.k, `${mode} p`).to.be.closeTo(want.p, 1e-12);
        // the released code's reward: gated p, min(p, 1 - p), no tool or repetition term here
        const gated = await buildReward('curriculum', {
          variant: 'code',
          unanswered: mode,
          repetition: false,
          toolWeight: 0,
        });
        const [r] = await gated.score([evidence(c)]);
        expect(r!.parts!.selfConsistency, `${mode} gated p`).to.be.closeTo(want.pGated, 1e-12);
        expect(r!.reward, `${mode} reward`).to.be.closeTo(want.uncertainty, 1e-12);
        const ungated = await buildReward('curriculum', {
          variant: 'code',
          unanswered: mode,
          ownAnswerGate: false,
          repetition: false,
          toolWeight: 0,
        });
        const [u] = await ungated.score([evidence(c)]);
        expect(u!.parts!.selfConsistency, `${mode} ungated p`).to.be.closeTo(want.p, 1e-12);
      }
    });
  }

  it('defaults: the code variant votes with a no-answer class (Agent0), the paper variant counts unanswered rollouts in k only', async () => {
    const c = V.curriculum.find((x) => x.name === 'more unanswered than the top answer')!;
    expect(c.expected.class.pGated).to.not.equal(c.expected.count.pGated);
    const [code] = await (await buildReward('curriculum', { repetition: false })).score([evidence(c)]);
    expect(code!.parts!.selfConsistency).to.be.closeTo(c.expected.class.pGated, 1e-12);
    const [paper] = await (
      await buildReward('curriculum', { variant: 'paper', repetition: false })
    ).score([evidence(c)]);
    expect(paper!.parts!.selfConsistency).to.be.closeTo(c.expected.count.p, 1e-12);
  });
});
