/**
 * Evaluates + - * / ( ) on integers and decimals with a tiny recursive-descent parser:
 * model-written input never reaches eval().
 */
export function calculate(src: string): number {
  const tokens = src.match(/\d+(?:\.\d+)?|[-+*/()]/g) ?? [];
  if (tokens.join('') !== src.replace(/\s+/g, '')) throw new Error(`unexpected character in '${src}'`);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const factor = (): number => {
    const t = next();
    if (t === '-') return -factor();
    if (t === '(') {
      const v = expr();
      if (next() !== ')') throw new Error('missing )');
      return v;
    }
    if (t === undefined || !/^\d/.test(t)) throw new Error(`expected a number, found ${t ?? 'the end'}`);
    return Number(t);
  };
  const term = (): number => {
    let v = factor();
    while (peek() === '*' || peek() === '/') {
      const op = next();
      const r = factor();
      if (op === '/' && r === 0) throw new Error('division by zero');
      v = op === '*' ? v * r : v / r;
    }
    return v;
  };
  const expr = (): number => {
    let v = term();
    while (peek() === '+' || peek() === '-') v = next() === '+' ? v + term() : v - term();
    return v;
  };
  const v = expr();
  if (i !== tokens.length) throw new Error(`unexpected '${tokens[i]}'`);
  return v;
}
