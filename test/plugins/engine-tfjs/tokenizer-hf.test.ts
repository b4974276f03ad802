import { expect } from 'chai';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HF_TOKENIZER_FILES, HfTokenizer, loadTokenizer, type TemplateMessage } from '../../../core/index.js';

/**
 * test/fixtures/qwen3-tiny: made by scripts/make_qwen3_fixture.py with tokenizers + transformers (see its
 * reference.json).
 */
export const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/qwen3-tiny');

interface TokenRef {
  text: string;
  ids: number[];
  hf_ids: number[];
  decoded: string;
  decoded_skip_special: string;
}
interface ChatRef {
  name: string;
  messages: TemplateMessage[];
  tools?: unknown[];
  add_generation_prompt: boolean;
  enable_thinking?: boolean;
  text: string;
  ids: number[];
}
interface Reference {
  tokens: TokenRef[];
  chats: ChatRef[];
  special_ids: Record<string, number>;
  hf_special: { eos_token_id: number; pad_token_id: number; len: number };
  errors: string[];
}

const ref = JSON.parse(readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8')) as Reference;

const renderChat = (tok: HfTokenizer, c: ChatRef): string =>
  tok.applyChatTemplate(c.messages, {
    addGenerationPrompt: c.add_generation_prompt,
    ...(c.tools ? { tools: c.tools } : {}),
    ...(c.enable_thinking !== undefined ? { extra: { enable_thinking: c.enable_thinking } } : {}),
  });

describe('engine-tfjs HfTokenizer (tokenizer.json) against HF tokenizers/transformers', () => {
  let tok: HfTokenizer;
  before(async () => {
    tok = await HfTokenizer.load(path.join(FIXTURE, 'untied'));
  });

  it('the fixture was generated without errors and covers what it should', () => {
    expect(ref.errors).to.deep.equal([]);
    expect(ref.tokens.length).to.be.at.least(12);
    expect(ref.chats.map((c) => c.name)).to.include.members([
      'system_user_gen',
      'multi_turn_reasoning',
      'no_thinking',
      'tools',
    ]);
    // The Rust library and AutoTokenizer agree, so either is the reference.
    for (const t of ref.tokens) expect(t.hf_ids, JSON.stringify(t.text)).to.deep.equal(t.ids);
  });

  it("encodes every reference string to exactly HF's ids (unicode, NFC, whitespace, special and added tokens)", () => {
    for (const t of ref.tokens) expect(tok.encode(t.text), JSON.stringify(t.text)).to.deep.equal(t.ids);
  });

  it("decodes HF's ids to HF's text, with and without special tokens", () => {
    for (const t of ref.tokens) {
      expect(tok.decode(t.ids), JSON.stringify(t.text)).to.equal(t.decoded);
      expect(tok.decode(t.ids, { skipSpecialTokens: true }), JSON.stringify(t.text)).to.equal(t.decoded_skip_special);
    }
    // Byte-level BPE loses nothing but normalisation (NFC here).
    for (const t of ref.tokens) expect(tok.decode(tok.encode(t.text))).to.equal(t.text.normalize('NFC'));
  });

  it("renders every chat exactly as transformers' apply_chat_template and tokenizes it to the same ids", () => {
    for (const c of ref.chats) {
      const text = renderChat(tok, c);
      expect(text, c.name).to.equal(c.text);
      expect(tok.encode(text), c.name).to.deep.equal(c.ids);
    }
  });

  it('takes vocab size, eos and pad ids from the folder as transformers does', () => {
    expect(tok.vocabSize).to.equal(ref.hf_special.len);
    // tokenizer_config eos_token first, then generation_config's eos_token_id list.
    expect(tok.eosIds).to.deep.equal([ref.special_ids['<|im_end|>'], ref.special_ids['<|endoftext|>']]);
    expect(tok.eosIds[0]).to.equal(ref.hf_special.eos_token_id);
    expect(tok.padId).to.equal(ref.hf_special.pad_token_id);
  });

  it('loads the folder transformers 5 itself saved (chat_template.jinja, extra_special_tokens)', async () => {
    const saved = await loadTokenizer(path.join(FIXTURE, 'tokenizer-hf-saved'));
    expect(saved).to.be.instanceOf(HfTokenizer);
    const hf = saved as HfTokenizer;
    expect(hf.hasChatTemplate).to.equal(true);
    for (const c of ref.chats) expect(renderChat(hf, c), c.name).to.equal(c.text);
    expect(hf.eosIds).to.deep.equal([ref.special_ids['<|im_end|>']]);
    expect(hf.padId).to.equal(ref.special_ids['<|endoftext|>']);
    expect(hf.encode(ref.tokens[9]!.text)).to.deep.equal(ref.tokens[9]!.ids);
  });

  it('save() writes the files back byte for byte, and they load to the same tokenizer', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hf-tok-'));
    try {
      await tok.save(dir);
      const written = (await fs.readdir(dir)).sort();
      expect(written).to.deep.equal(['generation_config.json', 'tokenizer.json', 'tokenizer_config.json']);
      for (const f of written) {
        expect(
          (await fs.readFile(path.join(dir, f))).equals(await fs.readFile(path.join(FIXTURE, 'untied', f))),
          f,
        ).to.equal(true);
      }
      const back = await loadTokenizer(dir);
      for (const t of ref.tokens) expect(back.encode(t.text)).to.deep.equal(t.ids);
      expect(back.eosIds).to.deep.equal(tok.eosIds);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('falls back to config.json for eos, picks the "default" of named templates, and fails clearly', async () => {
    const tj = readFileSync(path.join(FIXTURE, 'tokenizer', 'tokenizer.json'), 'utf8');
    const bare = new HfTokenizer({ texts: { 'tokenizer.json': tj }, modelConfig: { eos_token_id: 360 } });
    expect(bare.eosIds).to.deep.equal([360]);
    expect(bare.padId).to.equal(360);
    expect(bare.hasChatTemplate).to.equal(false);
    expect(() => bare.applyChatTemplate([{ role: 'user', content: 'x' }])).to.throw(/no chat template/);
    const named = new HfTokenizer({
      texts: {
        'tokenizer.json': tj,
        'tokenizer_config.json': JSON.stringify({
          eos_token: { content: '<|endoftext|>' },
          chat_template: [
            { name: 'tool_use', template: 'T' },
            { name: 'default', template: '{{ messages[0].content }}{{ eos_token }}' },
          ],
        }),
      },
    });
    expect(named.applyChatTemplate([{ role: 'user', content: 'hi' }])).to.equal('hi<|endoftext|>');
    expect(named.eosIds).to.deep.equal([360]);
    expect(tok.decode([])).to.equal('');
    // The fixture model's embedding has 384 rows for 367 tokens: the extra ids decode to nothing.
    expect(tok.decode([...tok.encode('ab'), 370, 383, ...tok.encode('c')])).to.equal('abc');
    expect(tok.decode([383])).to.equal('');
    expect(() => tok.decode([-1])).to.throw(/bad id/);
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'hf-tok-empty-'));
    try {
      await expectReject(loadTokenizer(empty), /no tokenizer found/);
      await expectReject(HfTokenizer.load(empty), /no tokenizer\.json/);
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
    expect(HF_TOKENIZER_FILES).to.include('chat_template.jinja');
  });
});

async function expectReject(p: Promise<unknown>, re: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(String((err as Error | undefined)?.message)).to.match(re);
}
