/**
 * EventBridge event-pattern matching, as a pure function, so local mode routes
 * events with the very patterns the AutoScaler template deploys.
 *
 * Semantics follow the EventBridge user guide ("Event patterns", "Content
 * filtering", "Comparison operators"):
 *  - every key of the pattern must match (AND); a leaf is an array of
 *    alternatives (OR); nested objects match nested objects;
 *  - a field missing from the event matches only `{"exists": false}`;
 *  - when the event value is an array, the leaf matches if any element does;
 *  - `$or` takes an array of sub-patterns, one of which must match;
 *  - operators: exact (string, number, boolean, null), prefix, suffix (both
 *    optionally `equals-ignore-case`), equals-ignore-case, anything-but
 *    (value, list, prefix, suffix, equals-ignore-case, wildcard), numeric
 *    ranges, exists, wildcard, cidr (IPv4).
 * Invalid patterns throw an EventPatternError naming the offending path.
 */
export type EventPattern = { [key: string]: unknown };

export class EventPatternError extends Error {
  constructor(path: string, message: string) {
    super(`invalid event pattern at ${path || '(root)'}: ${message}`);
    this.name = 'EventPatternError';
  }
}

const MISSING = Symbol('missing');
type Value = unknown | typeof MISSING;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when `event` matches `pattern`. Throws EventPatternError for a malformed pattern. */
export function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  if (!isPlainObject(pattern)) throw new EventPatternError('', 'a pattern must be a JSON object');
  return matchObject(pattern, event, '');
}

/** Throws EventPatternError if the pattern is malformed (checked without an event). */
export function validateEventPattern(pattern: unknown): void {
  if (!isPlainObject(pattern)) throw new EventPatternError('', 'a pattern must be a JSON object');
  validateObject(pattern, '');
}

function validateObject(pattern: Record<string, unknown>, path: string): void {
  if (Object.keys(pattern).length === 0) throw new EventPatternError(path, 'empty object');
  for (const [key, sub] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2) throw new EventPatternError(at, '$or needs an array of at least two patterns');
      sub.forEach((alternative, index) => {
        if (!isPlainObject(alternative)) throw new EventPatternError(`${at}[${index}]`, '$or alternatives must be objects');
        validateObject(alternative, `${at}[${index}]`);
      });
    } else if (Array.isArray(sub)) {
      if (sub.length === 0) throw new EventPatternError(at, 'empty array of alternatives');
      sub.forEach((matcher, index) => validateMatcher(matcher, `${at}[${index}]`));
    } else if (isPlainObject(sub)) {
      validateObject(sub, at);
    } else {
      throw new EventPatternError(at, 'a leaf must be an array of values or matchers');
    }
  }
}

function matchObject(pattern: Record<string, unknown>, event: unknown, path: string): boolean {
  if (Object.keys(pattern).length === 0) throw new EventPatternError(path, 'empty object');
  for (const [key, sub] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2) throw new EventPatternError(at, '$or needs an array of at least two patterns');
      const anyMatches = sub.some((alternative, index) => {
        if (!isPlainObject(alternative)) throw new EventPatternError(`${at}[${index}]`, '$or alternatives must be objects');
        return matchObject(alternative, event, `${at}[${index}]`);
      });
      if (!anyMatches) return false;
      continue;
    }
    const value: Value = isPlainObject(event) && Object.prototype.hasOwnProperty.call(event, key) ? event[key] : MISSING;
    if (Array.isArray(sub)) {
      if (sub.length === 0) throw new EventPatternError(at, 'empty array of alternatives');
      if (!matchLeaf(sub, value, at)) return false;
    } else if (isPlainObject(sub)) {
      if (value === MISSING) {
        // A nested pattern can still match a missing object when it only asks for absence.
        if (!matchObject(sub, {}, at)) return false;
      } else if (Array.isArray(value)) {
        if (!value.some((element) => isPlainObject(element) && matchObject(sub, element, at))) return false;
      } else if (!matchObject(sub, value, at)) {
        return false;
      }
    } else {
      throw new EventPatternError(at, 'a leaf must be an array of values or matchers');
    }
  }
  return true;
}

function matchLeaf(alternatives: unknown[], value: Value, path: string): boolean {
  return alternatives.some((matcher, index) => {
    const at = `${path}[${index}]`;
    if (isPlainObject(matcher) && 'exists' in matcher) return matchExists(matcher, value, at);
    if (value === MISSING) {
      validateMatcher(matcher, at);
      return false;
    }
    const candidates = Array.isArray(value) ? value : [value];
    return candidates.some((candidate) => matchScalar(matcher, candidate, at));
  });
}

function matchExists(matcher: Record<string, unknown>, value: Value, path: string): boolean {
  if (Object.keys(matcher).length !== 1 || typeof matcher.exists !== 'boolean') {
    throw new EventPatternError(path, '"exists" takes true or false and nothing else');
  }
  // Exists works on leaves only: an object (or an empty array) is not a leaf value.
  const present = value !== MISSING && !isPlainObject(value) && !(Array.isArray(value) && value.length === 0);
  return matcher.exists ? present : value === MISSING;
}

function validateMatcher(matcher: unknown, path: string): void {
  // Running the matcher against a sentinel value exercises every validation branch.
  matchScalar(matcher, MISSING, path);
}

function matchScalar(matcher: unknown, value: Value, path: string): boolean {
  if (matcher === null || typeof matcher === 'string' || typeof matcher === 'boolean') return value === matcher;
  if (typeof matcher === 'number') return typeof value === 'number' && value === matcher;
  if (!isPlainObject(matcher)) throw new EventPatternError(path, 'unsupported matcher (arrays cannot nest)');
  const operators = Object.keys(matcher);
  if (operators.length !== 1) {
    if (operators.includes('exists')) throw new EventPatternError(path, '"exists" takes true or false and nothing else');
    throw new EventPatternError(path, `a matcher object holds exactly one operator, got ${operators.join(', ') || 'none'}`);
  }
  const operator = operators[0];
  const argument = matcher[operator];
  switch (operator) {
    case 'prefix':
      return matchAffix(argument, value, path, 'prefix');
    case 'suffix':
      return matchAffix(argument, value, path, 'suffix');
    case 'equals-ignore-case': {
      const wanted = stringArgument(argument, path, operator);
      return typeof value === 'string' && value.toLowerCase() === wanted.toLowerCase();
    }
    case 'wildcard': {
      const regex = wildcardRegex(stringArgument(argument, path, operator), path);
      return typeof value === 'string' && regex.test(value);
    }
    case 'numeric':
      return matchNumeric(argument, value, path);
    case 'anything-but':
      return matchAnythingBut(argument, value, path);
    case 'cidr':
      return matchCidr(argument, value, path);
    case 'exists':
      return matchExists(matcher, value, path);
    default:
      throw new EventPatternError(path, `unknown operator "${operator}"`);
  }
}

function stringArgument(argument: unknown, path: string, operator: string): string {
  if (typeof argument !== 'string') throw new EventPatternError(path, `"${operator}" takes a string`);
  return argument;
}

function matchAffix(argument: unknown, value: Value, path: string, kind: 'prefix' | 'suffix'): boolean {
  let wanted: string;
  let ignoreCase = false;
  if (typeof argument === 'string') wanted = argument;
  else if (isPlainObject(argument) && Object.keys(argument).length === 1 && typeof argument['equals-ignore-case'] === 'string') {
    wanted = argument['equals-ignore-case'] as string;
    ignoreCase = true;
  } else {
    throw new EventPatternError(path, `"${kind}" takes a string or {"equals-ignore-case": string}`);
  }
  if (typeof value !== 'string') return false;
  const subject = ignoreCase ? value.toLowerCase() : value;
  const affix = ignoreCase ? wanted.toLowerCase() : wanted;
  return kind === 'prefix' ? subject.startsWith(affix) : subject.endsWith(affix);
}

const NUMERIC_OPERATORS = new Set(['<', '<=', '=', '>', '>=']);

function matchNumeric(argument: unknown, value: Value, path: string): boolean {
  if (!Array.isArray(argument) || argument.length === 0 || argument.length % 2 !== 0 || argument.length > 4) {
    throw new EventPatternError(path, '"numeric" takes [op, number] or [op, number, op, number]');
  }
  const conditions: Array<[string, number]> = [];
  for (let i = 0; i < argument.length; i += 2) {
    const op = argument[i];
    const bound = argument[i + 1];
    if (typeof op !== 'string' || !NUMERIC_OPERATORS.has(op) || typeof bound !== 'number' || !Number.isFinite(bound)) {
      throw new EventPatternError(path, `"numeric" has a bad condition ${JSON.stringify([op, bound])}`);
    }
    conditions.push([op, bound]);
  }
  if (conditions.length === 2) {
    const [[lowOp], [highOp]] = conditions;
    if (!(lowOp === '>' || lowOp === '>=') || !(highOp === '<' || highOp === '<=')) {
      throw new EventPatternError(path, '"numeric" range must be a lower bound (> or >=) followed by an upper bound (< or <=)');
    }
  }
  if (typeof value !== 'number') return false;
  return conditions.every(([op, bound]) => {
    switch (op) {
      case '<':
        return value < bound;
      case '<=':
        return value <= bound;
      case '=':
        return value === bound;
      case '>':
        return value > bound;
      default:
        return value >= bound;
    }
  });
}

function matchAnythingBut(argument: unknown, value: Value, path: string): boolean {
  const present = value !== MISSING;
  if (typeof argument === 'string' || typeof argument === 'number') {
    return present && value !== argument;
  }
  if (Array.isArray(argument)) {
    if (argument.length === 0) throw new EventPatternError(path, '"anything-but" list is empty');
    const allStrings = argument.every((item) => typeof item === 'string');
    const allNumbers = argument.every((item) => typeof item === 'number');
    if (!allStrings && !allNumbers) throw new EventPatternError(path, '"anything-but" list must be all strings or all numbers');
    return present && !(argument as unknown[]).includes(value);
  }
  if (isPlainObject(argument) && Object.keys(argument).length === 1) {
    const [operator] = Object.keys(argument);
    const inner = argument[operator];
    switch (operator) {
      case 'prefix':
      case 'suffix': {
        const wanted = stringArgument(inner, path, `anything-but.${operator}`);
        if (typeof value !== 'string') return false;
        return operator === 'prefix' ? !value.startsWith(wanted) : !value.endsWith(wanted);
      }
      case 'equals-ignore-case': {
        const list = Array.isArray(inner) ? inner : [inner];
        if (list.length === 0 || !list.every((item) => typeof item === 'string')) {
          throw new EventPatternError(path, '"anything-but.equals-ignore-case" takes a string or a list of strings');
        }
        if (typeof value !== 'string') return false;
        const lower = value.toLowerCase();
        return !list.some((item) => (item as string).toLowerCase() === lower);
      }
      case 'wildcard': {
        const list = Array.isArray(inner) ? inner : [inner];
        if (list.length === 0 || !list.every((item) => typeof item === 'string')) {
          throw new EventPatternError(path, '"anything-but.wildcard" takes a string or a list of strings');
        }
        const regexes = list.map((item) => wildcardRegex(item as string, path));
        if (typeof value !== 'string') return false;
        return !regexes.some((regex) => regex.test(value));
      }
      default:
        throw new EventPatternError(path, `"anything-but" does not support "${operator}"`);
    }
  }
  throw new EventPatternError(path, '"anything-but" takes a string, number, list, or {prefix|suffix|equals-ignore-case|wildcard}');
}

function wildcardRegex(pattern: string, path: string): RegExp {
  if (pattern.includes('**')) throw new EventPatternError(path, 'wildcard patterns may not contain consecutive "*"');
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i];
    if (char === '\\' && (pattern[i + 1] === '*' || pattern[i + 1] === '\\')) {
      source += `\\${pattern[i + 1]}`;
      i += 1;
    } else if (char === '*') {
      source += '.*';
    } else {
      source += char.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 's');
}

function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let result = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    result = result * 256 + octet;
  }
  return result;
}

function matchCidr(argument: unknown, value: Value, path: string): boolean {
  const match = typeof argument === 'string' ? /^([\d.]+)\/(\d{1,2})$/.exec(argument) : null;
  const network = match ? parseIpv4(match[1]) : null;
  const bits = match ? Number(match[2]) : NaN;
  if (network === null || !(bits >= 0 && bits <= 32)) throw new EventPatternError(path, '"cidr" takes an IPv4 block such as "10.0.0.0/24"');
  if (typeof value !== 'string') return false;
  const address = parseIpv4(value);
  if (address === null) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(address / size) === Math.floor(network / size);
}
