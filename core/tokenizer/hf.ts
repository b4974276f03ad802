import { Tokenizer as HfCore } from '@huggingface/tokenizers';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Tokenizer } from '../contracts/policy.js';
import { writeAtomic } from '../util/atomic.js';
import { ChatTemplate, type ChatTemplateOptions, type TemplateMessage } from './chat-template.js';

/** The files of an HF tokenizer folder this class reads; save() writes back those that were there. */
export const HF_TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'generation_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
] as const;
type HfFile = (typeof HF_TOKENIZER_FILES)[number];

type Json = Record<string, unknown>;

/** tokenizer_config.json writes special tokens as a string or as an AddedToken object. */
function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return undefined;
}

function idList(v: unknown): number[] {
  if (typeof v === 'number' && Number.isInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
  return [];
}

/**
 * tokenizer_config.json's chat_template is a string, or a list of named templates (the one named
 * "default" is what transformers uses); transformers >= 4.43 may instead write chat_template.jinja.
 */
function pickTemplate(cfg: Json, jinjaFile: string | undefined): string | undefined {
  const t = cfg.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t as { name?: string; template?: string }[];
    return (named.find((x) => x.name === 'default') ?? named[0])?.template;
  }
  return jinjaFile;
}

export interface HfTokenizerFiles {
  /** Raw text of each file that exists, keyed by file name. `tokenizer.json` is required. */
  texts: Partial<Record<HfFile, string>>;
  /** The model's config.json, for eos/pad ids a folder may keep only there. */
  modelConfig?: Json;
}

/**
 * An HF `tokenizer.json` tokenizer (byte-level BPE as Qwen uses, or any model the
 * @huggingface/tokenizers library supports) with its added/special tokens, eos and pad ids and chat
 * template. `encode` adds no special tokens (no BOS): sequences are built from separately encoded
 * pieces, and chat templates already spell out the ones a model needs.
 */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosIds: readonly number[];
  readonly padId: number;
  readonly core: HfCore;
  private readonly template?: ChatTemplate;
  private readonly texts: Partial<Record<HfFile, string>>;

  constructor(files: HfTokenizerFiles) {
    const tokJsonText = files.texts['tokenizer.json'];
    if (tokJsonText === undefined) throw new Error('HfTokenizer: tokenizer.json is required');
    this.texts = { ...files.texts };
    const tokJson = JSON.parse(tokJsonText) as Json;
    const cfg =
      files.texts['tokenizer_config.json'] !== undefined
        ? (JSON.parse(files.texts['tokenizer_config.json']) as Json)
        : {};
    const gen =
      files.texts['generation_config.json'] !== undefined
        ? (JSON.parse(files.texts['generation_config.json']) as Json)
        : {};
    const stm =
      files.texts['special_tokens_map.json'] !== undefined
        ? (JSON.parse(files.texts['special_tokens_map.json']) as Json)
        : {};
    const model = files.modelConfig ?? {};
    // The library defaults clean_up_tokenization_spaces to true (transformers did before 4.45); a
    // folder that does not ask for it gets its text back unchanged, as in current transformers.
    this.core = new HfCore(tokJson, { clean_up_tokenization_spaces: false, ...cfg });

    let maxId = -1;
    for (const id of this.core.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const special = (name: string): string | undefined => tokenString(cfg[name]) ?? tokenString(stm[name]);
    const idOf = (tok: string | undefined): number[] => {
      if (tok === undefined) return [];
      const id = this.core.token_to_id(tok);
      return id === undefined ? [] : [id];
    };
    // The tokenizer's own eos first (the id a trainer appends), then those generate() stops on.
    const eos = [...idOf(special('eos_token')), ...idList(gen.eos_token_id), ...idList(model.eos_token_id)];
    this.eosIds = [...new Set(eos)].filter((id) => id >= 0 && id < this.vocabSize);
    const pad = [
      ...idOf(special('pad_token')),
      ...idList(gen.pad_token_id),
      ...idList(model.pad_token_id),
      ...this.eosIds,
    ];
    this.padId = pad.find((id) => id >= 0 && id < this.vocabSize) ?? 0;

    const src = pickTemplate(cfg, files.texts['chat_template.jinja']);
    if (src !== undefined) {
      const specials: Record<string, string | null> = {};
      for (const k of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) specials[k] = special(k) ?? null;
      this.template = new ChatTemplate(src, specials);
    }
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const ids: (number | undefined)[] = this.core.encode(text, {
      add_special_tokens: opts.addSpecialTokens ?? false,
    }).ids;
    // Byte-level BPE covers every input; a model with an unk-less vocabulary that cannot would give undefined.
    if (ids.some((id) => typeof id !== 'number'))
      throw new Error(`HfTokenizer.encode: no token for part of ${JSON.stringify(text.slice(0, 60))}`);
    return ids as number[];
  }

  /**
   * Special tokens are kept unless `skipSpecialTokens`. Ids with no token (a model's embedding is
   * often padded past the vocabulary, e.g. 151936 vs 151669 for Qwen3) render as nothing, as the
   * Rust tokenizers library does.
   */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    const known: number[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`HfTokenizer.decode: bad id ${id}`);
      if (this.core.id_to_token(id) !== undefined) known.push(id);
    }
    // The library throws on an empty list.
    if (known.length === 0) return '';
    return this.core.decode(known, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  get chatTemplateSource(): string | undefined {
    return this.template?.source;
  }

  applyChatTemplate(messages: TemplateMessage[], opts?: ChatTemplateOptions): string {
    if (!this.template)
      throw new Error(
        'this tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja)',
      );
    return this.template.render(messages, opts);
  }

  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.core.id_to_token(id);
  }

  /** Writes back the tokenizer files it was loaded from, byte for byte. */
  async save(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
    for (const f of HF_TOKENIZER_FILES) {
      const t = this.texts[f];
      if (t !== undefined) await writeAtomic(path.join(dir, f), t);
    }
  }

  /**
   * Loads `dir/tokenizer.json` and whichever of tokenizer_config.json, generation_config.json, special_tokens_map.json,
   * chat_template.jinja and config.json exist.
   */
  static async load(dir: string): Promise<HfTokenizer> {
    const read = async (f: string): Promise<string | undefined> => {
      try {
        return await fs.readFile(path.join(dir, f), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    };
    const texts: Partial<Record<HfFile, string>> = {};
    for (const f of HF_TOKENIZER_FILES) {
      const t = await read(f);
      if (t !== undefined) texts[f] = t;
    }
    if (texts['tokenizer.json'] === undefined)
      throw new Error(
        `${dir}: no tokenizer.json (slow-tokenizer folders with only vocab.json/merges.txt are not supported)`,
      );
    const modelText = await read('config.json');
    const parse = (f: string, t: string): Json => {
      try {
        return JSON.parse(t) as Json;
      } catch (e) {
        throw new Error(`${path.join(dir, f)}: ${(e as Error).message}`, { cause: e });
      }
    };
    for (const [f, t] of Object.entries(texts)) if (f.endsWith('.json')) parse(f, t);
    return new HfTokenizer({
      texts,
      ...(modelText !== undefined ? { modelConfig: parse('config.json', modelText) } : {}),
    });
  }
}
