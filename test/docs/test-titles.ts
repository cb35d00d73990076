// Finds the titles of tests and suites (it, test, describe, and their .each forms) in a test file's source text.

/** The string literal whose opening quote is at `start`, unescaped, and the index after its closing quote. */
function readStringLiteral(source: string, start: number): { value: string; end: number } | undefined {
  const quote = source[start];
  if (quote !== "'" && quote !== '"' && quote !== '`') return undefined;
  let value = '';
  for (let i = start + 1; i < source.length; i += 1) {
    const char = source[i]!;
    if (char === '\\') {
      value += source[i + 1] ?? '';
      i += 1;
    } else if (char === quote) {
      return { value, end: i + 1 };
    } else {
      value += char;
    }
  }
  return undefined;
}

/** The index just after the parenthesis that closes the one at `open`, skipping strings and comments; -1 when unbalanced. */
function afterClosingParen(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i += 1) {
    const char = source[i]!;
    if (char === '/' && source[i + 1] === '/') {
      i = source.indexOf('\n', i);
      if (i < 0) return -1;
    } else if (char === '/' && source[i + 1] === '*') {
      i = source.indexOf('*/', i + 2) + 1;
      if (i <= 0) return -1;
    } else if (char === "'" || char === '"' || char === '`') {
      const literal = readStringLiteral(source, i);
      if (!literal) return -1;
      i = literal.end - 1;
    } else if (char === '(') {
      depth += 1;
    } else if (char === ')') {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

const skipSpace = (source: string, from: number) => {
  let i = from;
  while (i < source.length && /\s/.test(source[i]!)) i += 1;
  return i;
};

/**
 * Every title given as a string literal to it / test / describe (with .each, .skip, .only, … modifiers).
 * A title built from a variable (`it(name, …)` in a loop) is not a literal and is not returned.
 */
export function testTitles(source: string): string[] {
  const titles: string[] = [];
  // Not a method of something else (`regex.test(…)`); `.each` may carry type arguments (`it.each<[string, number]>(…)`).
  const call = /(?<![\w$.])(?:it|test|describe)((?:\.(?:each|concurrent|sequential|only|skip|todo|fails))*)(?:<[^()]*>)?\s*\(/g;
  for (let match = call.exec(source); match; match = call.exec(source)) {
    let at = match.index + match[0].length - 1;
    if (match[1]!.includes('.each')) {
      const afterTable = afterClosingParen(source, at);
      if (afterTable < 0) continue;
      at = skipSpace(source, afterTable);
      if (source[at] !== '(') continue;
    }
    const literal = readStringLiteral(source, skipSpace(source, at + 1));
    if (literal) titles.push(literal.value);
  }
  return titles;
}

/** A string literal `value` in any quoting, as it would be written in the source. */
export function containsStringLiteral(source: string, value: string): boolean {
  return ["'", '"', '`'].some((quote) => source.includes(`${quote}${value.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`)}${quote}`));
}

/**
 * Whether `title` names a test of `source`: a test or suite title, or a path `A › B` where every part but the last is
 * a title and the last is a title or a case string of a table-driven test (a literal in the file).
 */
export function namesTest(source: string, title: string): boolean {
  const titles = new Set(testTitles(source));
  const parts = title.split(' › ');
  const last = parts.pop()!;
  if (!parts.every((part) => titles.has(part))) return false;
  return titles.has(last) || (parts.length > 0 && containsStringLiteral(source, last));
}
