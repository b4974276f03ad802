/**
 * Reads a normalised answer string into a structure (lists, tuples/intervals, unions, relations,
 * matrices, ratios, text, single expressions). Expressions stay strings here: compare.ts parses them.
 */
export type Ans =
  | { k: 'expr'; s: string }
  | { k: 'text'; s: string }
  /** Written with brackets: a tuple or an interval; brackets are part of its identity. */
  | { k: 'seq'; open: string; close: string; items: Ans[] }
  /** Unordered: comma lists, `\{...\}` sets, `\pm` expansions. */
  | { k: 'list'; items: Ans[] }
  | { k: 'union'; items: Ans[] }
  /** `a op b op c`, ops among = < > ≤ ≥ ≠ ≈ . */
  | { k: 'rel'; parts: string[]; ops: string[] }
  | { k: 'in'; v: string; set: Ans }
  | { k: 'ratio'; items: string[] }
  | { k: 'matrix'; rows: string[][] };

const OPEN = '([{';
const CLOSE = ')]}';
const MAX_PM = 3;

/** Positions at depth 0 (brackets of any kind, `\left`-free input, `\begin...\end` blocks) where `re` matches. */
export function splitTop(s: string, re: RegExp, seps?: string[]): string[] {
  const sticky = new RegExp(re.source, 'y' + re.flags.replace(/[gy]/g, ''));
  const out: string[] = [];
  let depth = 0;
  let env = 0;
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (s.startsWith('\\begin', i)) env++;
      else if (s.startsWith('\\end', i)) env--;
      else if (s[i + 1] === '{' || s[i + 1] === '}') {
        depth += s[i + 1] === '{' ? 1 : -1;
        i++;
        continue;
      }
      if (depth === 0 && env === 0) {
        sticky.lastIndex = i;
        const m = sticky.exec(s);
        if (m && m[0].length) {
          out.push(s.slice(last, i));
          seps?.push(m[0]);
          last = i + m[0].length;
          i = last - 1;
          continue;
        }
      }
      const cmd = /^\\[a-zA-Z]+/.exec(s.slice(i));
      if (cmd) i += cmd[0].length - 1;
      continue;
    }
    if (OPEN.includes(c)) {
      depth++;
      continue;
    }
    if (CLOSE.includes(c)) {
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (depth === 0 && env === 0) {
      sticky.lastIndex = i;
      const m = sticky.exec(s);
      if (m && m[0].length) {
        out.push(s.slice(last, i));
        seps?.push(m[0]);
        last = i + m[0].length;
        i = last - 1;
      }
    }
  }
  out.push(s.slice(last));
  return out.map((x) => x.trim());
}

/** Index of the bracket closing the one at `i` (any bracket kind, `\{ \}` included), or -1. */
function matching(s: string, i: number): number {
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\') {
      if (s[j + 1] === '{') {
        depth++;
        j++;
        if (depth === 0) return j;
        continue;
      }
      if (s[j + 1] === '}') {
        depth--;
        j++;
        if (depth === 0) return j;
        continue;
      }
      continue;
    }
    if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) {
      depth--;
      if (depth === 0) return j;
    }
  }
  return -1;
}

/** True when `{...}` (plain LaTeX group) wraps the whole string. */
function groupWraps(s: string, open: string): boolean {
  return s.startsWith(open) && matching(s, 0) === s.length - 1;
}

const ITEM_SEP = /\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+|(?<=[\d)}\]])\s*(?:and|or)\s*(?=[A-Za-z(\\\-\d{[])/;
const REL_OP = /≤|≥|≠|≈|=|<|>/;
// words of prose; shorter letter runs are products of variables (`abc`), except a few answer words
const WORD = /[A-Za-z]{4,}|\b(?:odd|yes|no|nan|all|none)\b/gi;
const MATH_WORDS = new Set([
  'sin',
  'cos',
  'tan',
  'sec',
  'csc',
  'cot',
  'arcsin',
  'arccos',
  'arctan',
  'sinh',
  'cosh',
  'tanh',
  'log',
  'exp',
  'sqrt',
  'frac',
  'pi',
  'infty',
  'cdot',
  'times',
  'pmatrix',
  'bmatrix',
  'matrix',
  'begin',
  'end',
  'left',
  'right',
  'alpha',
  'beta',
  'gamma',
  'delta',
  'theta',
  'lambda',
  'sigma',
  'omega',
  'phi',
  'sum',
  'prod',
  'cup',
  'cap',
  'infin',
  'mathrm',
  'circ',
  'quad',
  'dots',
  'ldots',
  'cdots',
]);

/** `x`, `f(x)`, `a_{37}`, `(p,q)`, `|AB|`, `A:B`, `\frac{NO}{BO}`: a name for a value rather than a value. */
export function isLabel(s: string): boolean {
  const t = s
    .replace(/_\{[^{}]*\}|_[A-Za-z0-9]/g, '')
    .replace(/\\(?:frac|mathrm|mathbf|overline|vec|hat|bar|angle|triangle|operatorname)(?![a-zA-Z])/g, '');
  if (!/[A-Za-z]/.test(t) || /\d/.test(t) || /[-+*^=<>≤≥]/.test(t)) return false;
  return /^[\sA-Za-z\\{}()|:,'/]+$/.test(t);
}

/** The value a relation names (`x = 5+5+1 = 11` → `11`, `x ≈ 11` → `11`), or null for a genuine equation. */
export function relationValue(r: { parts: string[]; ops: string[] }): string | null {
  if (r.ops.some((o) => o !== '=' && o !== '≈')) return null;
  const firstApprox = r.ops.indexOf('≈');
  const eqParts = firstApprox < 0 ? r.parts : r.parts.slice(0, firstApprox + 1);
  if (eqParts.length >= 3) return eqParts[eqParts.length - 1]!;
  // `x = 11` names 11; `\frac12 = \frac{10}{9}` (constants only) reads as its last step
  if (eqParts.length === 2) return isLabel(eqParts[0]!) || eqParts.every(isConstant) ? eqParts[1]! : null;
  return r.parts[r.parts.length - 1]!;
}

function isConstant(s: string): boolean {
  return !/[A-Za-z]/.test(s.replace(/\\(?:frac|sqrt|pi|cdot|times)(?![a-zA-Z])/g, ''));
}

function isText(s: string): boolean {
  const words = (s.replace(/\\[a-zA-Z]+/g, ' ').match(WORD) ?? []).filter((w) => !MATH_WORDS.has(w.toLowerCase()));
  return words.length > 0;
}

/** Expands `\pm` into both signs (at most MAX_PM of them). */
export function expandPm(s: string): string[] {
  let out = [s];
  for (let n = 0; n < MAX_PM && out.some((x) => x.includes('\\pm')); n++) {
    out = out.flatMap((x) => (x.includes('\\pm') ? [x.replace('\\pm', '+'), x.replace('\\pm', '-')] : [x]));
  }
  return out.map((x) => x.replace(/^\s*\+/, '').trim());
}

function parseMatrixBody(body: string): string[][] {
  const rows = body
    .split(/\\\\/)
    .map((r) => r.trim())
    .filter((r) => r.length > 0 && !/^\\hline$/.test(r));
  return rows.map((r) =>
    r
      .replace(/\\hline/g, '')
      .split('&')
      .map((c) => c.trim()),
  );
}

const MATRIX = /\\begin\{(?:[pbvBV]?matrix|array)\}(?:\{[^{}]*\})?([\s\S]*?)\\end\{(?:[pbvBV]?matrix|array)\}/g;

/** A single matrix literal, or a sum/product of them (kept as a small expression over matrices). */
function parseMatrices(s: string): Ans | null {
  const mats: string[][][] = [];
  const rest = s.replace(MATRIX, (_m, body: string) => {
    mats.push(parseMatrixBody(body));
    return ` M${mats.length - 1} `;
  });
  if (!mats.length) return null;
  const ops = rest.replace(/^[\s([]*|[\s)\]]*$/g, '').trim();
  if (/^M0$/.test(ops)) return { k: 'matrix', rows: mats[0]! };
  const sum = /^M\d+(?:\s*\+\s*M\d+)*$/.test(ops);
  const prod = /^M\d+(?:\s*(?:\\cdot|\\times)?\s*M\d+)*$/.test(ops);
  if (!sum && !prod) return null;
  const idx = [...ops.matchAll(/M(\d+)/g)].map((m) => Number(m[1]));
  let acc = mats[idx[0]!]!;
  for (const j of idx.slice(1)) {
    const b = mats[j]!;
    if (sum) {
      if (acc.length !== b.length || acc.some((r, i) => r.length !== b[i]!.length)) return null;
      acc = acc.map((r, i) => r.map((c, k) => `(${c})+(${b[i]![k]})`));
    } else {
      const n = b[0]?.length ?? 0;
      if (acc.some((r) => r.length !== b.length)) return null;
      acc = acc.map((r) => Array.from({ length: n }, (_, k) => r.map((c, m) => `(${c})(${b[m]![k]})`).join('+')));
    }
  }
  return { k: 'matrix', rows: acc };
}

/** A one-item list is its item. */
export function unwrap(a: Ans): Ans {
  while (a.k === 'list' && a.items.length === 1) a = a.items[0]!;
  return a;
}

/** Parses one normalised answer. */
export function parseAnswer(src: string): Ans {
  let s = src.trim();
  while (groupWraps(s, '{')) s = s.slice(1, -1).trim();
  if (/\\begin\{(?:[pbvBV]?matrix|array)\}/.test(s)) {
    const m = parseMatrices(s);
    if (m) return m;
  }
  const groups = splitTop(s, /\s*;\s*/).filter((g) => g.length);
  if (groups.length > 1) {
    return {
      k: 'list',
      items: groups.map((g) => {
        const items = splitItems(g);
        return items.length > 1 ? { k: 'seq', open: '(', close: ')', items: items.map(valueOf) } : parseItem(g);
      }),
    };
  }
  const items = splitItems(s);
  if (items.length > 1) return labelledList(items.map(parseItem));
  return parseItem(s);
}

function splitItems(s: string): string[] {
  return splitTop(s, ITEM_SEP).filter((x) => x.length);
}

/** `n = 1, 2, 3`: a label on the first item names the whole list. */
function labelledList(items: Ans[]): Ans {
  const [first, ...rest] = items;
  if (first?.k === 'rel' && rest.every((x) => x.k !== 'rel' && x.k !== 'in')) {
    const v = relationValue(first);
    if (v !== null && first.parts.length === 2) return { k: 'list', items: [parseItem(v), ...rest] };
  }
  return { k: 'list', items };
}

/** An item with its label removed (`p=5` → `5`), for `p=5,q=2` read as the tuple (5,2). */
function valueOf(s: string): Ans {
  const a = parseItem(s);
  if (a.k === 'rel') {
    const v = relationValue(a);
    if (v !== null) return parseItem(v);
  }
  return a;
}

export function parseItem(src: string): Ans {
  let s = src.trim();
  while (groupWraps(s, '{')) s = s.slice(1, -1).trim();
  if (s.startsWith('\\{') && s.endsWith('\\}') && matching(s, 0) === s.length - 1) {
    const inner = s.slice(2, -2);
    return { k: 'list', items: splitItems(inner).map(parseItem) };
  }
  const inParts = splitTop(s, /\\in(?![a-zA-Z])/);
  if (inParts.length === 2) return { k: 'in', v: inParts[0]!, set: parseItem(inParts[1]!) };
  const relSplit = splitRelation(s);
  if (relSplit) return relSplit;
  const cup = splitTop(s, /\\cup(?![a-zA-Z])|∪/);
  if (cup.length > 1) return { k: 'union', items: cup.map(parseItem) };
  const ratio = splitTop(s, /:/);
  if (ratio.length > 1 && ratio.every((r) => r.length)) return { k: 'ratio', items: ratio };
  if (/^[([]/.test(s) && /[)\]]$/.test(s) && matching(s, 0) === s.length - 1) {
    const inner = s.slice(1, -1);
    const items = splitTop(inner, /\s*[,;]\s*/);
    if (items.length > 1) return { k: 'seq', open: s[0]!, close: s[s.length - 1]!, items: items.map(parseItem) };
    if (/^\s*[A-Za-z]\s*$/.test(inner)) return { k: 'text', s: inner.trim() };
  }
  if (isText(s)) return { k: 'text', s };
  if (s.includes('\\pm')) return { k: 'list', items: expandPm(s).map((x) => ({ k: 'expr', s: x })) };
  return { k: 'expr', s };
}

function splitRelation(s: string): Ans | null {
  const ops: string[] = [];
  const parts = splitTop(s, REL_OP, ops);
  if (parts.length < 2 || parts.some((p) => !p.length)) return null;
  return { k: 'rel', parts, ops };
}
