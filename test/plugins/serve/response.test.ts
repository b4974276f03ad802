import '@tensorflow/tfjs';
import { expect } from 'chai';
import type { Completion, Tokenizer, Trajectory } from '../../../core/index.js';
import type { GenRequest } from '../../../plugins/serve/request.js';
import { responseBody, streamChunks, tokenPieces } from '../../../plugins/serve/response.js';
import { splitTurns } from '../../../plugins/serve/tools.js';

/** Byte-level: id = one UTF-8 byte; 256 is EOS and decodes to the visible marker '<eos>'. */
const bytes: Tokenizer = {
  vocabSize: 257,
  eosIds: [256],
  padId: 256,
  encode: (t) => [...Buffer.from(t, 'utf8')],
  decode: (ids) => Buffer.concat(ids.map((i) => (i === 256 ? Buffer.from('<eos>') : Buffer.from([i])))).toString('utf8'),
};

const req = (o: Partial<GenRequest> = {}): GenRequest => ({
  api: 'completions', model: 'm', prompts: [[1]], n: 1, sampling: { maxNewTokens: 9 }, logprobs: null,
  stream: false, includeUsageInStream: false, includeStopStr: false, returnTokenIds: false, ...o,
});

describe('agent0 serve response shaping', () => {
  it('splits text into per-token pieces that never cut a character', () => {
    const ids = bytes.encode('aé€'); // 1 + 2 + 3 bytes
    expect(tokenPieces(ids, 'aé€', bytes)).to.deep.equal(['a', '', 'é', '', '', '€']);
  });

  it('keeps the EOS marker out of the text but its id in token_ids', () => {
    const ids = [...bytes.encode('ok'), 256];
    const c: Completion = { tokenIds: ids, text: bytes.decode(ids), logProbs: [-1, -1, -1], finishReason: 'eos' };
    expect(c.text).to.equal('ok<eos>');
    const body = responseBody(req({ returnTokenIds: true }), 'id', 0, [{ completion: c }], bytes) as { choices: { text: string; token_ids: number[]; finish_reason: string }[] };
    expect(body.choices[0]).to.deep.include({ text: 'ok', finish_reason: 'stop', token_ids: ids });
    const streamed = streamChunks(req(), 'id', 0, [{ completion: c }], bytes).map((ch) => (ch.choices as { text: string }[])[0]!.text).join('');
    expect(streamed).to.equal('ok');
  });

  it('splits a trajectory into alternating model and tool turns', () => {
    const t = { responseIds: bytes.encode('abXYc'), responseMask: [1, 1, 0, 0, 1] } as Trajectory;
    expect(splitTurns(t, bytes)).to.deep.equal([{ role: 'assistant', content: 'ab' }, { role: 'tool', content: 'XY' }, { role: 'assistant', content: 'c' }]);
  });
});
