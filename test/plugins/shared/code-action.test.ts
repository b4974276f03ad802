import { expect } from 'chai';
import { parseCodeAction, parseCodeToolAction } from '../../../plugins/shared/code-action.js';

// tool/python's own reading (defaults) is tested in test/plugins/python-sandbox/tool.test.ts.
describe('shared: code actions', () => {
  it('reads the blocks of the fences it is given, whole info strings only', () => {
    expect(parseCodeAction('```sh\ncd /tmp\n```\n```shell\nrm -r x\n```\n```sh\nls\n```', [], ['sh'])).to.deep.equal({
      code: 'cd /tmp\nls',
    });
    expect(parseCodeAction('```c++\nint x;\n```', [], ['c++'])).to.deep.equal({ code: 'int x;' });
    expect(parseCodeAction('```python\nprint(1)\n```', [], [])).to.equal(null);
  });

  it('reads <python> tags only when the fences name python', () => {
    expect(parseCodeAction('<python>print(1)</python>', [], ['py'])).to.equal(null);
    expect(parseCodeAction('<python>print(1)</python>\n```py\nprint(2)\n```', [], ['py'])).to.deep.equal({
      code: 'print(2)',
    });
    expect(parseCodeAction('<python>print(1)</python>\n```py\nprint(2)\n```', [], ['python', 'py'])).to.deep.equal({
      code: 'print(1)',
    });
  });

  it('answers as a Tool does: the program as the action, stdin in extra', () => {
    expect(parseCodeToolAction('```python\nprint(input())\n```\n```input\n9\n```\n```output')).to.deep.equal({
      valid: true,
      action: 'print(input())',
      extra: { stdin: '9' },
    });
    expect(parseCodeToolAction('```python\nprint(1)\n```')).to.deep.equal({ valid: true, action: 'print(1)' });
    expect(parseCodeToolAction('no code')).to.deep.equal({ valid: false });
    expect(parseCodeToolAction(42 as unknown as string)).to.deep.equal({ valid: false });
  });
});
