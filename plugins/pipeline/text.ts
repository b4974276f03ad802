import type { Tokenizer } from '../../core/index.js';
import { questionSpan } from '../shared/question.js';

/** Replaces `{name}` placeholders; unknown placeholders are left as they are. */
export function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? (vars[k] as string) : m));
}

/** Prompt ids for a text: through the model's chat template when asked and available. */
export function encodePrompt(tok: Tokenizer, text: string, chat: boolean): number[] {
  if (chat && tok.applyChatTemplate) {
    return tok.encode(tok.applyChatTemplate([{ role: 'user', content: text }], { addGenerationPrompt: true }));
  }
  return tok.encode(text);
}

export interface ParsedQuestion {
  question: string;
  /** The text after `</question>` (where the curriculum puts its own answer). */
  rest: string;
}

/** The curriculum's output format: `<question>...</question>` then its own `\boxed{}` answer. */
export function parseQuestion(text: string, maxChars = 400): ParsedQuestion | null {
  const q = questionSpan(text);
  return q && q.question.length <= maxChars ? q : null;
}
