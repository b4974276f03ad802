import { promises as fs } from 'node:fs';
import path from 'node:path';
import { HfTokenizer } from './hf.js';
import { TINY_TOKENIZER_FILE, TinyTokenizer } from './tiny.js';

export { ChatTemplate, type ChatTemplateOptions, type TemplateMessage } from './chat-template.js';
export { HF_TOKENIZER_FILES, HfTokenizer, type HfTokenizerFiles } from './hf.js';
export {
  TINY_DEFAULT_CHARS,
  TINY_SPECIALS,
  TINY_TOKENIZER_FILE,
  TinyTokenizer,
  type TinyTokenizerFile,
  type TinyTokenizerOptions,
} from './tiny.js';

const exists = (f: string): Promise<boolean> =>
  fs.stat(f).then(
    () => true,
    () => false,
  );

/**
 * The tokenizer a checkpoint folder holds: `tiny_tokenizer.json` (the embedded tiny model) or an HF
 * `tokenizer.json` with its tokenizer_config.json / generation_config.json / config.json.
 */
export async function loadTokenizer(dir: string): Promise<TinyTokenizer | HfTokenizer> {
  if (await exists(path.join(dir, TINY_TOKENIZER_FILE))) return TinyTokenizer.load(dir);
  if (await exists(path.join(dir, 'tokenizer.json'))) return HfTokenizer.load(dir);
  throw new Error(`${dir}: no tokenizer found (expected ${TINY_TOKENIZER_FILE} or tokenizer.json)`);
}
