import { expect } from 'chai';
import { questionSpan } from '../../../plugins/shared/question.js';

describe('shared: the <question> span', () => {
  it('takes the first tagged question, trimmed, and the text after its closing tag', () => {
    expect(questionSpan('x <question> 2 + 3 </question>\\boxed{5} <question>9</question>')).to.deep.equal({
      question: '2 + 3',
      rest: '\\boxed{5} <question>9</question>',
    });
    expect(questionSpan('<question>a\nb</question>')).to.deep.equal({ question: 'a\nb', rest: '' });
  });

  it('is null without a closed tag or with a blank question', () => {
    for (const t of ['', 'no tags', '<question>open only', '<question>  \n</question> after', '</question><question>'])
      expect(questionSpan(t), JSON.stringify(t)).to.equal(null);
  });
});
