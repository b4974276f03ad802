import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('layering lint rule (eslint.config.js)', function () {
  this.timeout(60_000);
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({ cwd: root });
  });

  /** The layering errors ESLint reports for `source` as if it were the file `file`. */
  const layering = async (file: string, source: string): Promise<string[]> => {
    const [r] = await eslint.lintText(source, { filePath: path.join(root, file) });
    return r!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  };
  const imports = (...specs: string[]) => specs.map((s, i) => `export { x${i} } from '${s}';`).join('\n');

  it('a plugin may not import another plugin, at any folder depth', async () => {
    expect(await layering('plugins/a/x.ts', "import { y } from '../b/y.js';\nexport { y };")).to.have.length(1);
    expect(await layering('plugins/a/x.ts', "export * from '../b/y.js';")).to.have.length(1);
    expect(await layering('plugins/a/sub/x.ts', imports('../../b/y.js', '../../../test/t.js'))).to.have.length(2);
    expect(await layering('plugins/a/sub/deeper/x.ts', imports('../../../b/y.js'))).to.have.length(1);
    const [message] = await layering('plugins/a/x.ts', imports('../b/y.js'));
    expect(message).to.match(/a plugin imports only core, plugins\/shared and its own folder/);
  });

  it('a plugin may import core, plugins/shared and its own folder', async () => {
    expect(
      await layering(
        'plugins/a/x.ts',
        imports('./y.js', './sub/z.js', '../shared/boxed.js', '../../core/index.js', 'undici'),
      ),
    ).to.deep.equal([]);
    expect(
      await layering(
        'plugins/a/sub/x.ts',
        imports('../y.js', './z.js', '../../shared/boxed.js', '../../../core/index.js'),
      ),
    ).to.deep.equal([]);
  });

  it('plugins/shared imports only core and itself', async () => {
    expect(await layering('plugins/shared/x.ts', imports('../b/y.js'))).to.have.length(1);
    expect(await layering('plugins/shared/x.ts', imports('./boxed.js', '../../core/index.js'))).to.deep.equal([]);
  });

  it('core never imports a plugin, nor the shared layer', async () => {
    expect(await layering('core/x.ts', imports('../plugins/a/index.js'))).to.have.length(1);
    expect(
      await layering('core/run/x.ts', imports('../../plugins/shared/boxed.js', '../../plugins/index.js')),
    ).to.have.length(2);
    const [message] = await layering('core/run/x.ts', imports('../../plugins/a/index.js'));
    expect(message).to.match(/core imports only core/);
    expect(await layering('core/run/x.ts', imports('../util/rng.js', './lock.js', 'yaml'))).to.deep.equal([]);
  });

  it('the package entries may list every plugin', async () => {
    expect(await layering('plugins/index.ts', imports('./a/index.js', './b/index.js'))).to.deep.equal([]);
    expect(await layering('plugins/entries/a.ts', imports('../a/index.js'))).to.deep.equal([]);
  });

  it('the tree keeps the layering', async () => {
    const results = await eslint.lintFiles(['core', 'plugins']);
    const broken = results.flatMap((r) =>
      r.messages
        .filter((m) => m.ruleId === 'no-restricted-imports')
        .map((m) => `${path.relative(root, r.filePath)}:${m.line}: ${m.message}`),
    );
    expect(broken).to.deep.equal([]);
  });
});
