/** String-level clean-up of an extracted answer before it is split into structures and parsed. */

const UNIT_WORDS = [
  'cm',
  'mm',
  'km',
  'm',
  'meters?',
  'metres?',
  'centimeters?',
  'kilometers?',
  'miles?',
  'inch(?:es)?',
  'feet',
  'foot',
  'ft',
  'yards?',
  'units?',
  'square',
  'sq',
  'cubic',
  'dollars?',
  'cents?',
  'yuan',
  'euros?',
  'hours?',
  'hrs?',
  'minutes?',
  'mins?',
  'seconds?',
  'days?',
  'weeks?',
  'months?',
  'years?',
  'kg',
  'grams?',
  'g',
  'pounds?',
  'lbs?',
  'liters?',
  'litres?',
  'ml',
  'degrees?',
  'points?',
  'people',
  'persons?',
  'students?',
  'ways?',
  'times',
  'mph',
  'km/h',
  'm/s',
];
const UNIT_RE = new RegExp(
  `(\\d|\\})\\s*(?:\\s(?:${UNIT_WORDS.join('|')})|(?:${UNIT_WORDS.join('|')}))(?:\\s*(?:\\^\\{?[23]\\}?|²|³))?(?![a-zA-Z])`,
  'g',
);

/** `\\frac` written with a doubled backslash (escaped twice upstream) becomes `\frac`, outside matrices. */
export function undoubleBackslashes(s: string): string {
  return /\\begin|\\\\\s*\\end/.test(s) ? s : s.replace(/\\\\(?=[a-zA-Z])/g, '\\');
}

/** Replaces `\cmd{...}` (braces matched) by `f(content)`. */
function replaceCommandArg(s: string, cmds: string[], f: (content: string) => string): string {
  const re = new RegExp(`\\\\(?:${cmds.join('|')})\\s*\\{`, 'g');
  let out = '';
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    let depth = 1;
    let j = m.index + m[0].length;
    for (; j < s.length && depth > 0; j++) {
      if (s[j] === '{' && s[j - 1] !== '\\') depth++;
      else if (s[j] === '}' && s[j - 1] !== '\\') depth--;
    }
    if (depth !== 0) break;
    out += s.slice(last, m.index) + f(s.slice(m.index + m[0].length, j - 1));
    last = j;
    re.lastIndex = j;
  }
  return out + s.slice(last);
}

export function normalizeAnswer(raw: string): string {
  let s = undoubleBackslashes(raw).trim();
  s = s.replace(/\\(?:left|right|big|Big|bigg|Bigg)(?=[^a-zA-Z])\.?/g, '');
  s = s.replace(/\\[dtc]frac/g, '\\frac');
  s = s.replace(/\\(?:displaystyle|limits|nolimits)/g, '');
  // `11,\! 111` and `14{,}916` are typeset thousands separators
  s = s
    .replace(/\s*\{\s*,\s*\}\s*/g, ',')
    .replace(/,\s*\\!\s*/g, ',')
    .replace(/(?<!\\)\\!/g, '');
  s = s.replace(/\\(?:quad|qquad)|(?<!\\)\\[,;: ]|~/g, ' ');
  s = s.replace(/\\leqslant|\\leq|\\le(?![a-zA-Z])|<=/g, '≤').replace(/\\geqslant|\\geq|\\ge(?![a-zA-Z])|>=/g, '≥');
  s = s
    .replace(/\\neq|\\ne(?![a-zA-Z])|!=/g, '≠')
    .replace(/\\lt(?![a-zA-Z])/g, '<')
    .replace(/\\gt(?![a-zA-Z])/g, '>');
  s = s
    .replace(/\\approx|\\simeq/g, '≈')
    .replace(/\\mp/g, '\\pm')
    .replace(/±/g, '\\pm');
  s = s.replace(/\^\s*\{?\s*\\circ\s*\}?|\\circ|°|\\degree/g, '');
  // one spelling each for the reals and the empty set
  s = s.replace(/\\mathbb\s*\{?\s*R\s*\}?|\\R(?![a-zA-Z])|\ball real numbers\b/g, '(-\\infty,\\infty)');
  s = s.replace(/\\varnothing|\\emptyset|\\\{\s*\\\}|\\O(?![a-zA-Z])/g, '\\emptyset');
  s = s.replace(/\\%|%|\\text\{\s*(?:percent|percentage|pct)\s*\}|\b(?:percentage|percent|pct)\b/g, '');
  s = s.replace(/\\\$|\$/g, '');
  // a word in \text{} right after a number is a unit (`5 \text{ apples}`, `3\text{ m}^2`)
  s = s.replace(
    /(\d|\})\s*\\(?:text|mbox|textnormal)\{\s*(?!and\b|or\b)[a-zA-Z]+(?:\s+[a-zA-Z]+)?\s*\}(?:\s*\^\{?[23]\}?)?(?=\s*(?:$|[,;)\]]))/g,
    '$1',
  );
  s = replaceCommandArg(
    s,
    ['text', 'textbf', 'textit', 'textnormal', 'textrm', 'mbox', 'mathrm', 'mathbf', 'mathit', 'operatorname', 'boxed'],
    (c) => (/^\s*(?:and|or)\s*$/.test(c) ? ` ${c.trim()} ` : c.includes('\\') ? c : ` ${c} `),
  );
  s = s.replace(UNIT_RE, '$1');
  s = s
    .replace(/\\frac\s*(\d)\s*(\d)/g, '\\frac{$1}{$2}')
    .replace(/\\frac\s*(\d)\s*\{/g, '\\frac{$1}{')
    .replace(/\\frac\s*\{([^{}]*)\}\s*(\d)/g, '\\frac{$1}{$2}');
  s = s.replace(/\\sqrt\s*(\d)/g, '\\sqrt{$1}').replace(/\\sqrt\s+([a-zA-Z])/g, '\\sqrt{$1}');
  // mixed numbers: `4 4/9` is 4 + 4/9, `-4 4/9` is -(4 + 4/9) (a proper fraction, one space, whole answer)
  s = s.replace(/^([-+]?)(\d+) (\d+)\/(\d+)$/, (m, sign: string, a: string, b: string, c: string) =>
    BigInt(c) > 0n && BigInt(b) < BigInt(c) ? `${sign === '-' ? '-' : ''}(${a}+\\frac{${b}}{${c}})` : m,
  );
  // mixed numbers: 3\frac{1}{2} is 3 + 1/2 (only when every part is a plain integer)
  s = s.replace(/(^|[^\d.}^_])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}/g, '$1($2+\\frac{$3}{$4})');
  // thousands separators only in the strict 1,234,567 pattern
  // (not right inside brackets, where `(12,102)` is a pair)
  s = s.replace(
    /(^|[^\d.,([{])([1-9]\d{0,2}(?:,\d{3})+)(?![\d,]*\d)(?![)\]}])/g,
    (_m, pre: string, n: string) => pre + n.replace(/,/g, ''),
  );
  if (/^\s*\d{1,3}(?: \d{3})+(?:\.\d+)?\s*$/.test(s)) s = s.replace(/ /g, '');
  s = s
    .replace(/\s+/g, ' ')
    .replace(/[\s.;,:]+$/, '')
    .replace(/^[\s:]+/, '')
    .trim();
  return s;
}

/** `1,22` or `1000,99` as a decimal with a comma (tried as an alternative reading, never the first one). */
export function decimalCommaReading(s: string): string | null {
  const m = /^(-?\d+),(\d+)$/.exec(s.trim());
  return m ? `${m[1]}.${m[2]}` : null;
}
