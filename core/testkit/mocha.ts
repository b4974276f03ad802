/** The test kit defines suites with mocha's globals (describe/it), as ESLint's RuleTester does. */
type Fn = () => void | Promise<void>;
interface MochaGlobals {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: Fn): void;
}

export function suite(name: string, body: (it: (title: string, fn: Fn) => void) => void): void {
  const g = globalThis as unknown as Partial<MochaGlobals>;
  if (typeof g.describe !== 'function' || typeof g.it !== 'function') {
    throw new Error('the agent0 test kit defines mocha suites: call it from a file that mocha runs');
  }
  const it = g.it.bind(g);
  g.describe(name, () => body((title, fn) => it(title, fn)));
}
