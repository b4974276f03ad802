import '@tensorflow/tfjs';
import { expect } from 'chai';
import type { Completion, Tokenizer, Trajectory } from '../../../core/index.js';
import type { GenRequest } from '../../../plugins/serve/request.js';
import { responseBody } from '../../../plugins/serve/response.js';
import { StreamAnswer } from '../../../plugins/serve/stream.js';
import { splitTurns } from '../../../plugins/serve/tools.js';

/** Byte-level: id = one UTF-8 byte; 256 is EOS and decodes to the visible marker '<eos>'. */
const bytes: Tokenizer = {
  vocabSize: 257,
  eosIds: [256],
  padId: 256,
  encode: (t) => [...Buffer.from(t, 'utf8')],
  decode: (ids) =>
    Buffer.concat(ids.map((i) => (i === 256 ? Buffer.from('<eos>') : Buffer.from([i])))).toString('utf8'),
};

const req = (o: Partial<GenRequest> = {}): GenRequest => ({
  api: 'completions',
  model: 'm',
  prompts: [[1]],
  n: 1,
  sampling: { maxNewTokens: 9 },
  logprobs: null,
  stream: false,
  includeUsageInStream: false,
  includeStopStr: false,
  skipSpecialTokens: false,
  returnTokenIds: false,
  ...o,
});

/** The text pieces of a streamed answer whose tokens arrive one by one, then the completion. */
function streamed(r: GenRequest, c: Completion, tok: Tokenizer): string[] {
  const chunks: Record<string, unknown>[] = [];
  const answer = new StreamAnswer(r, 'id', 0, tok, (ch) => chunks.push(ch));
  c.tokenIds.forEach((tokenId, t) => answer.token({ row: 0, tokenId, logProb: c.logProbs[t] ?? NaN }));
  answer.finish([{ completion: c }]);
  return chunks
    .map((ch) => (ch.choices as { text?: string }[])[0]?.text)
    .filter((t): t is string => t !== undefined && t !== '');
}

describe('agent0 serve response shaping', () => {
  it('streams text in pieces that never cut a character', () => {
    const ids = bytes.encode('aé€'); // 1 + 2 + 3 bytes
    const c: Completion = { tokenIds: ids, text: 'aé€', logProbs: ids.map(() => -1), finishReason: 'length' };
    expect(streamed(req(), c, bytes)).to.deep.equal(['a', 'é', '€']);
  });

  it('holds back streamed text that may become a stop string, and never sends the stop string', () => {
    const text = 'ab</x>';
    const ids = bytes.encode(text);
    const c: Completion = {
      tokenIds: ids,
      text,
      logProbs: ids.map(() => -1),
      finishReason: 'stop',
      stopString: '</x>',
    };
    const sampling = { maxNewTokens: 9, stop: ['</x>'] };
    // '<' could start '</x>': 3 characters wait until the stop string is settled.
    expect(streamed(req({ sampling }), c, bytes)).to.deep.equal(['a', 'b']);
    expect(streamed(req({ sampling, includeStopStr: true }), c, bytes)).to.deep.equal(['a', 'b', '<', '/', 'x', '>']);
  });

  it('keeps the EOS marker out of the text but its id in token_ids', () => {
    const ids = [...bytes.encode('ok'), 256];
    const c: Completion = { tokenIds: ids, text: bytes.decode(ids), logProbs: [-1, -1, -1], finishReason: 'eos' };
    expect(c.text).to.equal('ok<eos>');
    const body = responseBody(req({ returnTokenIds: true }), 'id', 0, [{ completion: c }], bytes) as {
      choices: { text: string; token_ids: number[]; finish_reason: string }[];
    };
    expect(body.choices[0]).to.deep.include({ text: 'ok', finish_reason: 'stop', token_ids: ids });
    expect(streamed(req(), c, bytes).join('')).to.equal('ok');
    // vLLM keeps the EOS token's text only with include_stop_str_in_output (and skip_special_tokens off).
    const kept = responseBody(req({ includeStopStr: true }), 'id', 0, [{ completion: c }], bytes) as {
      choices: { text: string }[];
    };
    expect(kept.choices[0]!.text).to.equal('ok<eos>');
    expect(streamed(req({ includeStopStr: true }), c, bytes).join('')).to.equal('ok<eos>');
  });

  it('splits a trajectory into alternating model and tool turns', () => {
    const t = { responseIds: bytes.encode('abXYc'), responseMask: [1, 1, 0, 0, 1] } as Trajectory;
    expect(splitTurns(t, bytes)).to.deep.equal([
      { role: 'assistant', content: 'ab' },
      { role: 'tool', content: 'XY' },
      { role: 'assistant', content: 'c' },
    ]);
  });
});
