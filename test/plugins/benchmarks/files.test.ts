import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { parquetWriteFile } from 'hyparquet-writer';
import { testTaskSource } from '../../../core/testkit/index.js';
import { FileTaskSource } from '../../../plugins/benchmarks/index.js';
import { lastBoxed, referenceAnswer } from '../../../plugins/benchmarks/read.js';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-bench-files-'));
await fs.writeFile(
  path.join(dir, 'math500.jsonl'),
  [
    { problem: 'Compute $1+1$.', solution: 'So \\boxed{2}.', answer: '2', unique_id: 'test/a/1.json' },
    {
      problem: 'Simplify $\\frac{2}{4}$.',
      solution: '\\boxed{\\frac{1}{2}}',
      answer: '\\frac{1}{2}',
      unique_id: 'test/a/2.json',
    },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n'),
);
await fs.writeFile(
  path.join(dir, 'gsm8k.jsonl'),
  `${JSON.stringify({ question: 'Tom has 3 apples...', answer: 'He has 3+4=7\n#### 1,007' })}\n`,
);
parquetWriteFile({
  filename: path.join(dir, 'aime.parquet'),
  columnData: [
    { name: 'Problem', data: ['Find x.', 'Find y.'], type: 'STRING' },
    { name: 'Answer', data: [204, 25], type: 'INT32' },
  ],
});
const source = () =>
  new FileTaskSource({
    splits: { math500: 'math500.jsonl', gsm8k: 'gsm8k.jsonl', aime: 'aime.parquet' },
    baseDir: dir,
    problemField: null,
    answerField: null,
    idField: null,
  });

testTaskSource('files', source);

describe('benchmark files', () => {
  it('reads MATH-500, GSM8K and AIME (Parquet) shapes', async () => {
    const s = source();
    expect(await s.load('math500')).to.deep.equal([
      { id: 'test/a/1.json', problem: 'Compute $1+1$.', answer: '2', meta: { source: 'math500.jsonl' } },
      {
        id: 'test/a/2.json',
        problem: 'Simplify $\\frac{2}{4}$.',
        answer: '\\frac{1}{2}',
        meta: { source: 'math500.jsonl' },
      },
    ]);
    expect((await s.load('gsm8k'))[0]).to.include({ problem: 'Tom has 3 apples...', answer: '1007' });
    expect((await s.load('aime')).map((t) => [t.problem, t.answer])).to.deep.equal([
      ['Find x.', '204'],
      ['Find y.', '25'],
    ]);
  });

  it('finds the last boxed answer with nested braces', () => {
    expect(lastBoxed('a \\boxed{1} then \\boxed{\\frac{a}{b}} end')).to.equal('\\frac{a}{b}');
    expect(referenceAnswer('long solution \\boxed{\\sqrt{2}}')).to.equal('\\sqrt{2}');
  });

  it('names the file and row when a problem field is missing', async () => {
    await fs.writeFile(path.join(dir, 'bad.jsonl'), '{"text": "x"}\n');
    const s = new FileTaskSource({
      splits: { bad: 'bad.jsonl' },
      baseDir: dir,
      problemField: null,
      answerField: null,
      idField: null,
    });
    try {
      await s.load('bad');
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.contain('bad.jsonl row 1: no problem field');
    }
  });
});
