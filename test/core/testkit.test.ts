import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { testReward, testTool, type Plugin, type RewardFunction, type Tool } from '../../core/index.js';

// The example third-party plugin, checked with the same kit its authors would use.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const plugin = ((await import(pathToFileURL(path.join(root, 'examples/plugin-example/index.js')).href)) as { default: Plugin }).default;
const make = <T>(name: string, options: Record<string, unknown>) => () => plugin.components.find((c) => c.name === name)!.create(options, {} as never) as T;

testTool('example calculator', make<Tool>('calculator', { maxCalls: 3 }), {
  valid: [{ text: 'so <calc>1+2</calc>', action: '1+2' }, { text: '<calc> (4) </calc>\n', action: '(4)' }],
  invalid: ['no action here', '<calc>1+2</calc> and more text', '<calc>1+2'],
  run: [
    { action: '2*(3+4)', check: (r) => { if (r.observation !== '14' || !r.valid) throw new Error(r.observation); } },
    { action: '2*', check: (r) => { if (r.valid || !r.observation.startsWith('error:')) throw new Error(r.observation); } },
  ],
});

const task = { id: 't', problem: 'p' };
testReward('example length-penalty', make<RewardFunction>('length-penalty', { budget: 4, coef: 0.25 }), {
  batches: [{ batch: [{ response: 'abcdefgh', task }, { response: 'ab', task }], expected: [-0.25 * 4, 0] }],
});
