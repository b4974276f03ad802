import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Tokenizer } from '../contracts/policy.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { ChatTemplate, type ChatTemplateOptions, type TemplateMessage } from './chat-template.js';

export const TINY_TOKENIZER_FILE = 'tiny_tokenizer.json';
const FORMAT = 'agent0-tiny-char';

export const TINY_SPECIALS = { pad: '<pad>', eos: '<eos>', unk: '<unk>' } as const;

/** '\n' then printable ASCII (space .. '~'): every character of the embedded world's corpus. */
export const TINY_DEFAULT_CHARS = [
  '\n',
  ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)),
];

/** The contents of tiny_tokenizer.json. */
export interface TinyTokenizerFile {
  format: typeof FORMAT;
  version: 1;
  /**
   * Token strings in id order: the three specials (pad, eos, unk) first, then the tokens: one
   * character each, and multi-character words (see TinyTokenizerOptions.words).
   */
  vocab: string[];
  chatTemplate?: string;
}

export interface TinyTokenizerOptions {
  /** The characters that get an id, in id order after the specials (default: '\n' + printable ASCII). */
  chars?: readonly string[];
  /**
   * Multi-character tokens (ids after the characters), matched longest first: a small fixed
   * vocabulary over a grammar's fixed strings (```` ```python\n ````, `\\boxed{`, ` * `) makes
   * sequences shorter, so a tiny model samples and trains faster and copies over shorter distances.
   * Every word must be made of known characters, so any text still encodes and decodes exactly.
   */
  words?: readonly string[];
  /** A Jinja chat template; absent means `applyChatTemplate` throws. */
  chatTemplate?: string;
}

/**
 * Character-level tokenizer of the embedded tiny model: ids 0..2 are `<pad>`, `<eos>`, `<unk>`,
 * then one id per known character (99 ids by default), then optional multi-character words.
 * Special-token strings in the text encode to their ids and decode back to the same strings (as HF
 * tokenizers do), so decode(encode(s)) equals s for any text made of known characters; other
 * characters become `<unk>`.
 */
export class TinyTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly padId = 0;
  readonly eosId = 1;
  readonly unkId = 2;
  readonly eosIds: readonly number[] = [1];
  private readonly vocab: readonly string[];
  private readonly charIds: Map<string, number>;
  /** Words by their first character, longest first. */
  private readonly wordsByFirst = new Map<string, { word: string; id: number }[]>();
  private readonly template?: ChatTemplate;

  constructor(opts: TinyTokenizerOptions = {}) {
    const chars = opts.chars ?? TINY_DEFAULT_CHARS;
    const words = opts.words ?? [];
    const seen = new Set<string>();
    for (const ch of chars) {
      // One UTF-16 code point per token keeps encode a simple scan; surrogate pairs count as one.
      if ([...ch].length !== 1) throw new Error(`TinyTokenizer: token ${JSON.stringify(ch)} is not a single character`);
      if (seen.has(ch)) throw new Error(`TinyTokenizer: character ${JSON.stringify(ch)} listed twice`);
      seen.add(ch);
    }
    for (const w of words) {
      if ([...w].length < 2)
        throw new Error(
          `TinyTokenizer: word ${JSON.stringify(w)} must have at least two characters (list characters in chars)`,
        );
      if (seen.has(w)) throw new Error(`TinyTokenizer: word ${JSON.stringify(w)} listed twice`);
      const unknown = [...w].find((ch) => !chars.includes(ch));
      if (unknown !== undefined)
        throw new Error(
          `TinyTokenizer: word ${JSON.stringify(w)} has the unknown character ${JSON.stringify(unknown)}`,
        );
      if (Object.values(TINY_SPECIALS).some((sp) => w.includes(sp)))
        throw new Error(`TinyTokenizer: word ${JSON.stringify(w)} contains a special token`);
      seen.add(w);
    }
    this.vocab = [TINY_SPECIALS.pad, TINY_SPECIALS.eos, TINY_SPECIALS.unk, ...chars, ...words];
    this.vocabSize = this.vocab.length;
    this.charIds = new Map(chars.map((ch, i) => [ch, i + 3]));
    words.forEach((word, i) => {
      const first = String.fromCodePoint(word.codePointAt(0) as number);
      const list = this.wordsByFirst.get(first) ?? [];
      list.push({ word, id: 3 + chars.length + i });
      list.sort((a, b) => b.word.length - a.word.length);
      this.wordsByFirst.set(first, list);
    });
    if (opts.chatTemplate !== undefined) {
      this.template = new ChatTemplate(opts.chatTemplate, {
        eos_token: TINY_SPECIALS.eos,
        pad_token: TINY_SPECIALS.pad,
        unk_token: TINY_SPECIALS.unk,
      });
    }
  }

  encode(text: string): number[] {
    const out: number[] = [];
    let i = 0;
    while (i < text.length) {
      if (text.charCodeAt(i) === 0x3c /* '<' */) {
        const sid = this.specialAt(text, i);
        if (sid >= 0) {
          out.push(sid);
          i += (this.vocab[sid] as string).length;
          continue;
        }
      }
      const cp = text.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      const word = this.wordsByFirst.get(ch)?.find((w) => text.startsWith(w.word, i));
      if (word) {
        out.push(word.id);
        i += word.word.length;
        continue;
      }
      out.push(this.charIds.get(ch) ?? this.unkId);
      i += ch.length;
    }
    return out;
  }

  /**
   * `skipSpecialTokens` drops pad/eos/unk (HF's skip_special_tokens); by default they render as their
   * strings. Ids past the vocabulary render as nothing, as in HF tokenizers: the model's embedding
   * is usually larger than the vocabulary (128 vs 99 by default), and an untrained model samples there.
   */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    let s = '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`TinyTokenizer.decode: bad id ${id}`);
      const tok = this.vocab[id];
      if (tok === undefined || (id < 3 && opts.skipSpecialTokens)) continue;
      s += tok;
    }
    return s;
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  applyChatTemplate(messages: TemplateMessage[], opts?: ChatTemplateOptions): string {
    if (!this.template) throw new Error('TinyTokenizer has no chat template');
    return this.template.render(messages, opts);
  }

  idToToken(id: number): string | undefined {
    return this.vocab[id];
  }

  toJSON(): TinyTokenizerFile {
    return {
      format: FORMAT,
      version: 1,
      vocab: [...this.vocab],
      ...(this.template ? { chatTemplate: this.template.source } : {}),
    };
  }

  async save(dir: string): Promise<void> {
    await writeJsonAtomic(path.join(dir, TINY_TOKENIZER_FILE), this.toJSON());
  }

  static fromJSON(json: unknown, where = TINY_TOKENIZER_FILE): TinyTokenizer {
    const j = json as Partial<TinyTokenizerFile> | null;
    if (!j || typeof j !== 'object' || j.format !== FORMAT)
      throw new Error(`${where}: not a tiny tokenizer (format must be "${FORMAT}")`);
    if (j.version !== 1) throw new Error(`${where}: unsupported version ${String(j.version)}`);
    if (!Array.isArray(j.vocab) || !j.vocab.every((t) => typeof t === 'string'))
      throw new Error(`${where}: vocab must be an array of strings`);
    const specials = [TINY_SPECIALS.pad, TINY_SPECIALS.eos, TINY_SPECIALS.unk];
    if (specials.some((s, i) => j.vocab?.[i] !== s))
      throw new Error(`${where}: vocab must start with ${specials.join(', ')}`);
    if (j.chatTemplate !== undefined && typeof j.chatTemplate !== 'string')
      throw new Error(`${where}: chatTemplate must be a string`);
    const tokens = j.vocab.slice(3);
    const firstWord = tokens.findIndex((t) => [...t].length > 1);
    const chars = firstWord < 0 ? tokens : tokens.slice(0, firstWord);
    const words = firstWord < 0 ? [] : tokens.slice(firstWord);
    if (words.some((w) => [...w].length < 2))
      throw new Error(`${where}: characters must come before the multi-character words in vocab`);
    return new TinyTokenizer({
      chars,
      words,
      ...(j.chatTemplate !== undefined ? { chatTemplate: j.chatTemplate } : {}),
    });
  }

  static async load(dir: string): Promise<TinyTokenizer> {
    const file = path.join(dir, TINY_TOKENIZER_FILE);
    return TinyTokenizer.fromJSON(JSON.parse(await fs.readFile(file, 'utf8')), file);
  }

  /** The id of the special token whose string starts at `text[i]`, or -1. */
  private specialAt(text: string, i: number): number {
    for (let id = 0; id < 3; id++) {
      if (text.startsWith(this.vocab[id] as string, i)) return id;
    }
    return -1;
  }
}
