import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from '../../core/index.js';

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
}

const tokenName = (t: unknown): string | undefined =>
  typeof t === 'string' ? t : t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string' ? (t as { content: string }).content : undefined;

/**
 * The tokenizer of an HF model folder (tokenizer.json + tokenizer_config.json), for a remote
 * engine that must turn server text back into ids without loading the model's weights.
 * End-of-generation ids come from generation_config.json / config.json, else the eos token.
 */
export async function loadHfTokenizer(dir: string): Promise<Tokenizer> {
  const json = await readJson(path.join(dir, 'tokenizer.json'));
  if (!json) throw new Error(`rollout/openai: tokenizerPath '${dir}' has no tokenizer.json`);
  const config = (await readJson(path.join(dir, 'tokenizer_config.json'))) ?? {};
  const tok = new HfTokenizer(json, config);
  const idOf = (name: string | undefined): number | undefined => (name === undefined ? undefined : tok.token_to_id(name));
  const eos = new Set<number>();
  for (const f of ['generation_config.json', 'config.json']) {
    const e = (await readJson(path.join(dir, f)))?.eos_token_id;
    for (const id of Array.isArray(e) ? e : [e]) if (Number.isInteger(id)) eos.add(id as number);
  }
  const eosTok = idOf(tokenName(config.eos_token));
  if (eosTok !== undefined) eos.add(eosTok);
  const padId = idOf(tokenName(config.pad_token)) ?? [...eos][0] ?? 0;
  const vocabSize = tok.get_vocab(true).size;
  return {
    vocabSize,
    eosIds: [...eos],
    padId,
    encode: (text) => {
      const ids: (number | undefined)[] = tok.encode(text, { add_special_tokens: false }).ids;
      if (ids.some((id) => id === undefined)) throw new Error(`${dir}/tokenizer.json has no id for part of ${JSON.stringify(text.slice(0, 60))}`);
      return ids as number[];
    },
    decode: (ids) => tok.decode([...ids], { skip_special_tokens: false }),
  };
}

/** The model's vocab_size from an HF folder's config.json (0 when absent): ids a server may sample. */
export async function modelVocabSize(dir: string): Promise<number> {
  const v = (await readJson(path.join(dir, 'config.json')))?.vocab_size;
  return Number.isInteger(v) ? (v as number) : 0;
}
