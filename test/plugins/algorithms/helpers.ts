import { Ajv } from 'ajv';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import algorithms from '../../../plugins/algorithms/index.js';
import type { ComponentContext, ComponentKind, ComponentTypes } from '../../../core/index.js';

const ajv = new Ajv({ useDefaults: true, strict: true });
// the recipe's own keywords (core/recipe/validate.ts); strict mode refuses unknown ones
ajv.addKeyword({ keyword: 'x-ref', schemaType: 'string' });
ajv.addKeyword({ keyword: 'x-inherits', schemaType: 'array' });

/** Builds a component of the algorithms plugin the way a recipe would: schema defaults filled, options validated. */
export function build<K extends ComponentKind>(
  kind: K,
  name: string,
  options: Record<string, unknown> = {},
): ComponentTypes[K] {
  const def = algorithms.components.find((c) => c.kind === kind && c.name === name);
  if (!def) throw new Error(`no component ${kind}/${name}`);
  const opts = structuredClone(options);
  const validate = ajv.compile(def.options);
  if (!validate(opts)) throw new Error(`invalid options for ${kind}/${name}: ${ajv.errorsText(validate.errors)}`);
  return def.create(opts, { name } as ComponentContext) as ComponentTypes[K];
}

export function t2(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], 'float32');
}

/**
 * Element-wise |a - b| ≤ tol · max(1, |b|): absolute near zero, relative for large values (float32
 * carries about 7 significant digits, so e.g. a ratio of e^20 cannot match to 1e-6 absolute).
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6, what = ''): void {
  expect(actual.length, `${what} length`).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i],
      e = expected[i];
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e))))
      expect.fail(`${what}[${i}]: got ${a}, expected ${e} (tol ${tol})`);
  }
}

export function flat(rows: number[][]): number[] {
  return rows.flat();
}
