import assert from 'node:assert/strict';
import type { Tool, ToolResult } from '../contracts/tool.js';
import { suite } from './mocha.js';

export interface ToolCases {
  /** Texts the tool must accept, with the action it should extract (when given). */
  valid: { text: string; action?: string }[];
  /** Texts that hold no action for this tool. */
  invalid: string[];
  /** Actions to run, with a check of the result. */
  run?: { action: string; check: (r: ToolResult) => void }[];
}

const HOSTILE = ['', '\u0000', 'x'.repeat(100_000), '```python\n', '}{)(][', '\ud800'];

function assertResult(r: ToolResult): void {
  assert.equal(typeof r.observation, 'string', 'observation must be a string');
  assert.equal(typeof r.done, 'boolean', 'done must be a boolean');
  assert.equal(typeof r.valid, 'boolean', 'valid must be a boolean');
}

/** Conformance suite for a Tool: parsing, result shape, hostile input never throws, finish is idempotent. */
export function testTool(name: string, make: () => Tool | Promise<Tool>, cases: ToolCases): void {
  suite(`tool conformance: ${name}`, (it) => {
    const withTool = async (fn: (t: Tool) => Promise<void>) => {
      const tool = await make();
      try {
        await fn(tool);
      } finally {
        await tool.dispose?.();
      }
    };
    it('has a name', () => withTool(async (t) => assert.ok(typeof t.name === 'string' && t.name.length > 0)));
    it('parses valid actions', () =>
      withTool(async (t) => {
        for (const c of cases.valid) {
          const p = t.parseAction(c.text);
          assert.equal(p.valid, true, `should accept: ${JSON.stringify(c.text).slice(0, 80)}`);
          assert.equal(typeof p.action, 'string');
          if (c.action !== undefined) assert.equal(p.action, c.action);
        }
      }));
    it('rejects texts without an action', () =>
      withTool(async (t) => {
        for (const text of cases.invalid)
          assert.equal(t.parseAction(text).valid, false, `should reject: ${JSON.stringify(text).slice(0, 80)}`);
      }));
    it('answers hostile actions with an observation, never a throw', () =>
      withTool(async (t) => {
        for (const a of HOSTILE) assertResult(await t.conductAction('conformance-hostile', a));
        await t.finish('conformance-hostile');
      }));
    it('runs actions and reports results', () =>
      withTool(async (t) => {
        for (const [i, c] of (cases.run ?? []).entries()) {
          const r = await t.conductAction(`conformance-run-${i}`, c.action);
          assertResult(r);
          c.check(r);
          await t.finish(`conformance-run-${i}`);
        }
      }));
    it('finish is idempotent and accepts unknown trajectories', () =>
      withTool(async (t) => {
        await t.finish('never-seen');
        await t.finish('never-seen');
      }));
  });
}
