import { Template } from '@huggingface/jinja';
import type { ChatMessage } from '../contracts/policy.js';

/** What `applyChatTemplate` accepts besides the messages (mirrors transformers' keyword arguments). */
export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** Tool (function) schemas, rendered by templates that support tools. */
  tools?: unknown[];
  /** Extra template variables, e.g. `{ enable_thinking: false }` for Qwen3. */
  extra?: Record<string, unknown>;
}

/**
 * A chat message as templates see it. Messages may carry more than the core contract's fields
 * (e.g. `tool_calls` on assistant turns), so the template gets them as given.
 */
export type TemplateMessage = ChatMessage & Record<string, unknown>;

/**
 * A parsed chat template. Parsing once matters: rollouts render a prompt per sample.
 * `specialTokens` are the tokenizer_config.json strings (bos_token, eos_token, ...) that
 * transformers also passes to the template.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specialTokens: Record<string, string | null> = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new Error(`chat template does not parse: ${(e as Error).message}`, { cause: e });
    }
  }

  render(messages: readonly TemplateMessage[], opts: ChatTemplateOptions = {}): string {
    if (messages.length === 0) throw new Error('applyChatTemplate: no messages');
    return this.template.render({
      ...this.specialTokens,
      ...opts.extra,
      messages,
      ...(opts.tools ? { tools: opts.tools } : {}),
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    });
  }
}
