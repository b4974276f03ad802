import { expect } from 'chai';
import { ablationCsv, ablationMarkdown, ablationRows, stat } from '../../plugins/pipeline/ablation/table.js';

describe('ablation table', () => {
  it('computes mean and sample std (n - 1)', () => {
    const s = stat([0.2, 0.4, 0.9]);
    // mean 0.5; deviations -0.3, -0.1, 0.4 → squares 0.09 + 0.01 + 0.16 = 0.26; / 2 = 0.13
    expect(s.mean).to.be.closeTo(0.5, 1e-12);
    expect(s.std).to.be.closeTo(Math.sqrt(0.13), 1e-12);
    expect(stat([0.7])).to.deep.equal({ mean: 0.7, std: 0, n: 1 });
  });

  it('orders rows like the variants, with differences to the full recipe', () => {
    const runs = [
      { variant: 'full', seed: 0, easy: 0.9, hard: 0.4, toolCalls: 1.0, seconds: 10 },
      { variant: 'full', seed: 1, easy: 0.7, hard: 0.2, toolCalls: 0.5, seconds: 12 },
      { variant: 'grpo', seed: 0, easy: 0.8, hard: 0.1, toolCalls: 0.25, seconds: 9 },
    ];
    const rows = ablationRows(runs, ['full', 'grpo'], 'full');
    expect(rows.map((r) => r.variant)).to.deep.equal(['full', 'grpo']);
    expect(rows[0]?.delta).to.equal(undefined);
    // full means: easy 0.8, hard 0.3, tools 0.75
    expect(rows[1]?.delta?.easy).to.be.closeTo(0.0, 1e-12);
    expect(rows[1]?.delta?.hard).to.be.closeTo(-0.2, 1e-12);
    expect(rows[1]?.delta?.toolCalls).to.be.closeTo(-0.5, 1e-12);
    expect(rows[0]?.seconds).to.equal(22);
    const md = ablationMarkdown(rows);
    expect(md).to.contain('| full | 80.0 ± 14.1 | 30.0 ± 14.1 | 0.75 ± 0.35 | — | — | — | 2 | 22 |');
    expect(md).to.contain('| grpo | 80.0 | 10.0 | 0.25 | +0.0 | -20.0 | -0.50 | 1 | 9 |');
    expect(ablationCsv(rows).split('\n')[2]).to.equal('grpo,1,0.8,0,0.1,0,0.25,0,0,-0.2,-0.5,9');
  });
});
