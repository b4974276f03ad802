import { expect } from 'chai';
import fc from 'fast-check';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTokenizer, TINY_TOKENIZER_FILE, TinyTokenizer } from '../../../core/index.js';

const printable = fc.string({ unit: fc.constantFrom(...'\n abcXYZ019+-*/=()<>{}[]\\`_.,:;!?\'"#~'.split('')) });

describe('engine-tfjs TinyTokenizer', () => {
  const tok = new TinyTokenizer();

  it('has pad/eos/unk at 0/1/2, then "\\n" and printable ASCII (99 ids, fits the tiny model)', () => {
    expect(tok.vocabSize).to.equal(99);
    expect([tok.padId, ...tok.eosIds, tok.unkId]).to.deep.equal([0, 1, 2]);
    expect(tok.encode('\n')).to.deep.equal([3]);
    expect(tok.encode(' ')).to.deep.equal([4]); // space is the first printable char
    expect(tok.encode('A~')).to.deep.equal([4 + 0x41 - 0x20, 4 + 0x7e - 0x20]);
    expect(tok.encode('')).to.deep.equal([]);
    expect(tok.vocabSize).to.be.at.most(128);
  });

  it('round-trips corpus strings exactly', () => {
    const corpus = [
      '<question>What is 12 + 7 * (3 - 1)?</question>',
      'We compute.\n```python\nprint(12 + 7 * (3 - 1))\n```\n```output\n26\n```\nThe answer is \\boxed{26}.',
      '  leading and trailing  ',
      '~!@#$%^&*()_+{}|:"<>?`-=[]\\;\',./',
    ];
    for (const s of corpus) {
      const ids = tok.encode(s);
      expect(ids.length).to.equal(s.length);
      expect(ids.every((i) => i >= 3)).to.equal(true);
      expect(tok.decode(ids)).to.equal(s);
    }
    fc.assert(fc.property(printable, (s) => tok.decode(tok.encode(s)) === s && tok.encode(s).length === s.length));
  });

  it('maps special-token strings to their ids and back; skipSpecialTokens drops them', () => {
    expect(tok.encode('a<eos>')).to.deep.equal([...tok.encode('a'), 1]);
    expect(tok.encode('<pad><unk><eos>')).to.deep.equal([0, 2, 1]);
    expect(tok.encode('<eo')).to.have.length(3);
    expect(tok.decode([...tok.encode('hi'), 1, 0])).to.equal('hi<eos><pad>');
    expect(tok.decode([...tok.encode('hi'), 1, 0], { skipSpecialTokens: true })).to.equal('hi');
  });

  it('turns unknown characters (incl. astral ones) into one <unk> each', () => {
    expect(tok.encode('a\tb')).to.deep.equal([tok.encode('a')[0], 2, tok.encode('b')[0]]);
    expect(tok.encode('é😀x')).to.deep.equal([2, 2, tok.encode('x')[0]]);
    expect(tok.decode(tok.encode('é'))).to.equal('<unk>');
  });

  it("decodes ids past the vocabulary (the model's padded embedding rows) to nothing; rejects bad ids", () => {
    expect(tok.decode([...tok.encode('a'), 99, 127, ...tok.encode('b')])).to.equal('ab');
    expect(() => tok.decode([-1])).to.throw(/bad id/);
    expect(() => tok.decode([1.5])).to.throw(/bad id/);
  });

  it('saves tiny_tokenizer.json and loads it back (also through loadTokenizer) with its chat template', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tiny-tok-'));
    try {
      const tpl =
        '{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}';
      const t = new TinyTokenizer({ chatTemplate: tpl });
      await t.save(dir);
      const raw = JSON.parse(await fs.readFile(path.join(dir, TINY_TOKENIZER_FILE), 'utf8')) as { vocab: string[] };
      expect(raw.vocab.slice(0, 4)).to.deep.equal(['<pad>', '<eos>', '<unk>', '\n']);
      const back = await loadTokenizer(dir);
      expect(back).to.be.instanceOf(TinyTokenizer);
      const s = 'x = 3 * (4 + 5)\n<eos>';
      expect(back.encode(s)).to.deep.equal(t.encode(s));
      const msgs = [{ role: 'user' as const, content: 'hi' }];
      expect(back.applyChatTemplate(msgs, { addGenerationPrompt: true })).to.equal('<user>hi<eos>\n<assistant>');
      expect(back.applyChatTemplate(msgs)).to.equal('<user>hi<eos>\n');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('matches multi-character words longest first, round-trips exactly, and saves them', async () => {
    const words = ['```python\n', '```output', 'print(', ' * ', ' ** ', '\\boxed{'];
    const t = new TinyTokenizer({ words });
    expect(t.vocabSize).to.equal(99 + words.length);
    const id = (w: string) => 99 + words.indexOf(w);
    // ' ** ' wins over ' * ' where both match; '**' without spaces stays two characters
    expect(t.encode('2 ** 3 * 4')).to.deep.equal([
      ...tok.encode('2'),
      id(' ** '),
      ...tok.encode('3'),
      id(' * '),
      ...tok.encode('4'),
    ]);
    expect(t.encode('2**3')).to.deep.equal(tok.encode('2**3'));
    const s = '```python\nprint(6 * 7)\n```\n```output\n42\n```\n\\boxed{42}<eos>';
    const ids = t.encode(s);
    expect(t.decode(ids)).to.equal(s);
    expect(ids.length).to.equal(s.length - (10 - 1) - (6 - 1) - (3 - 1) - (9 - 1) - (7 - 1) - ('<eos>'.length - 1));
    fc.assert(fc.property(printable, (x) => t.decode(t.encode(x)) === x));
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tiny-tok-'));
    try {
      await t.save(dir);
      const back = await loadTokenizer(dir);
      expect(back.vocabSize).to.equal(t.vocabSize);
      expect(back.encode(s)).to.deep.equal(ids);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    expect(() => new TinyTokenizer({ words: ['a'] })).to.throw(/at least two characters/);
    expect(() => new TinyTokenizer({ words: ['ab', 'ab'] })).to.throw(/twice/);
    expect(() => new TinyTokenizer({ words: ['a\tb'] })).to.throw(/unknown character/);
    expect(() => new TinyTokenizer({ words: ['x<eos>'] })).to.throw(/special token/);
  });

  it('custom character sets work; bad files and sets fail clearly', () => {
    const t = new TinyTokenizer({ chars: ['0', '1', '+', '='] });
    expect(t.vocabSize).to.equal(7);
    expect(t.encode('10+1=11')).to.deep.equal([4, 3, 5, 4, 6, 4, 4]);
    expect(t.encode('12')).to.deep.equal([4, 2]);
    expect(() => new TinyTokenizer({ chars: ['a', 'a'] })).to.throw(/twice/);
    expect(() => new TinyTokenizer({ chars: ['ab'] })).to.throw(/single character/);
    expect(() => TinyTokenizer.fromJSON({ format: 'x' })).to.throw(/not a tiny tokenizer/);
    expect(() =>
      TinyTokenizer.fromJSON({ format: 'agent0-tiny-char', version: 1, vocab: ['a', '<eos>', '<unk>'] }),
    ).to.throw(/must start with/);
    expect(() => new TinyTokenizer().applyChatTemplate([{ role: 'user', content: 'x' }])).to.throw(/no chat template/);
  });
});
