// A synthetic stream: record n's payload is the configured template rendered for n, published
// at a configured rate, up to a configured count. The position is n; the host hands it back in
// `commit` once Danube persisted the record, and the next n to emit is then kept in the host's
// state store, so a restarted connector resumes after the last committed record.
//
// Config ([config] of the connector file):
//   template      payload template (see Templates below)    default '{"n": {{n}}}'
//   rate_per_sec  records per second, 0 = as fast as Danube takes them    default 0
//   count         records in all, 0 = no end                             default 0
//   key_field     field of the payload used as the record key (a.b for nested fields)

import { log } from 'danube:connect/log@0.1.0';
import { get, set } from 'danube:connect/state@0.1.0';

// ---- Templates ------------------------------------------------------------------------

// Payload templates: text with `{{ ... }}` placeholders, rendered for each record number `n`.
//
//   {{n}}          the record number, counting from 0
//   {{n % 4}}      n with one integer operation: + - * / (integer division) %
//   {{now_ms}}     wall-clock milliseconds since the Unix epoch
//   {{{{}}         a literal `{{`
//
// Templates are compiled once, in `open`, so a mistake is a config error and not a record
// dead-lettered at run time.

const PLACEHOLDER = /\{\{(.*?)\}\}/gs;
const EXPRESSION = /^\s*n\s*(?:([-+*/%])\s*(\d+)\s*)?$/;

const OPERATIONS = {
  '+': (n, k) => n + k,
  '-': (n, k) => n - k,
  '*': (n, k) => n * k,
  '/': (n, k) => n / k,
  '%': (n, k) => n % k,
};

/** Compiles `text`; returns `render(n: bigint) => string` or throws an Error naming the problem. */
function compile(text) {
  if (typeof text !== 'string') {
    throw new Error('must be a string');
  }
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    parts.push(text.slice(last, match.index));
    parts.push(placeholder(match[1]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return (n) => parts.map((part) => (typeof part === 'string' ? part : part(n))).join('');
}

function placeholder(source) {
  if (source === '{{') {
    return () => '{{';
  }
  if (source.trim() === 'now_ms') {
    return () => String(Date.now());
  }
  const m = EXPRESSION.exec(source);
  if (!m) {
    throw new Error(`unknown placeholder {{${source}}}: use n, n <op> <integer> or now_ms`);
  }
  const [, op, operand] = m;
  if (!op) {
    return (n) => String(n);
  }
  // BigInt keeps counters exact past 2^53; `/` on BigInt is integer division.
  const k = BigInt(operand);
  if ((op === '/' || op === '%') && k === 0n) {
    throw new Error(`division by zero in {{${source}}}`);
  }
  return (n) => String(OPERATIONS[op](n, k));
}

// ---- Configuration --------------------------------------------------------------------

// The connector's `[config]` table, checked once in `open`.

const DEFAULTS = {
  template: '{"n": {{n}}}',
  rate_per_sec: 0,
  count: 0,
  key_field: null,
};

class ConfigError extends Error {}

/**
 * `configJson` is the `[config]` table as JSON. Every error names its key.
 * Returns `{ render, ratePerSec, count, keyField }`; `count` is a BigInt, 0n = unbounded.
 */
function parseConfig(configJson) {
  let raw;
  try {
    raw = configJson ? JSON.parse(configJson) : {};
  } catch (e) {
    throw new ConfigError(`[config] is not JSON: ${e.message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('[config] must be a table');
  }
  const unknown = Object.keys(raw).filter((k) => !(k in DEFAULTS));
  if (unknown.length > 0) {
    throw new ConfigError(`unknown key \`${unknown[0]}\` (known: ${Object.keys(DEFAULTS).join(', ')})`);
  }
  const c = { ...DEFAULTS, ...raw };

  let render;
  try {
    render = compile(c.template);
  } catch (e) {
    throw new ConfigError(`\`template\`: ${e.message}`);
  }
  if (!isWhole(c.rate_per_sec)) {
    throw new ConfigError('`rate_per_sec` must be a whole number, 0 for as fast as possible');
  }
  if (!isWhole(c.count)) {
    throw new ConfigError('`count` must be a whole number, 0 for no end');
  }
  if (c.key_field !== null && (typeof c.key_field !== 'string' || c.key_field === '')) {
    throw new ConfigError('`key_field` must be the name of a field of the payload');
  }
  // Render one record now: a template that does not make JSON fails here, not per record.
  let sample;
  try {
    sample = JSON.parse(render(0n));
  } catch (e) {
    throw new ConfigError(`\`template\` does not render JSON for n = 0: ${e.message}`);
  }
  if (c.key_field !== null && keyOf(sample, c.key_field) === undefined) {
    throw new ConfigError(`\`key_field\` ${c.key_field} is not a field of the rendered template`);
  }
  return { render, ratePerSec: c.rate_per_sec, count: BigInt(c.count), keyField: c.key_field };
}

/** The record key: `field` of the JSON payload (a `.`-separated path), as a string. */
function keyOf(doc, field) {
  let value = doc;
  for (const name of field.split('.')) {
    if (value === null || typeof value !== 'object' || !(name in value)) {
      return undefined;
    }
    value = value[name];
  }
  if (value === null || typeof value === 'object') {
    return undefined;
  }
  return String(value);
}

function isWhole(v) {
  return Number.isSafeInteger(v) && v >= 0;
}

// ---- The source -----------------------------------------------------------------------

const STREAM = 'counter';
const NEXT_KEY = 'next';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let settings = null;
/** Next record number to emit. */
let next = 0n;
/** Next record number a restart would start from, as last stored. */
let stored = 0n;
/** Rate limiting: records the current second may still emit, refilled as time passes. */
let credit = 0;
let lastRefill = 0;

// An `error` variant of the WIT; a thrown value becomes the `err` of a `result`.
const configError = (message) => ({ tag: 'config', val: message });
const retryable = (message) => ({ tag: 'retryable', val: { message, afterMs: undefined } });

function info(message, fields = []) {
  log('info', message, fields);
}

function loadPosition() {
  let bytes;
  try {
    bytes = get(NEXT_KEY);
  } catch (e) {
    // The store is the host's; a failure there is worth another try, not a restart from 0.
    throw retryable(`state.get(${NEXT_KEY}) failed: ${e.payload ?? e}`);
  }
  if (bytes === undefined) {
    return 0n;
  }
  const text = decoder.decode(bytes);
  if (!/^\d+$/.test(text)) {
    throw configError(`the stored position ${JSON.stringify(text)} is not a record number`);
  }
  return BigInt(text);
}

/** How many of `wanted` records the rate allows now. */
function allowed(wanted) {
  const rate = settings.ratePerSec;
  if (rate === 0) {
    return wanted;
  }
  const now = performance.now();
  // At most one second of credit: a source that was held back does not burst afterwards.
  credit = Math.min(rate, credit + ((now - lastRefill) * rate) / 1000);
  lastRefill = now;
  const take = Math.min(wanted, Math.floor(credit));
  credit -= take;
  return take;
}

function record(n) {
  const text = settings.render(n);
  const key = settings.keyField === null ? undefined : keyOf(JSON.parse(text), settings.keyField);
  return {
    topic: undefined,
    key,
    attributes: [],
    payload: encoder.encode(text),
    position: { streamId: STREAM, value: n.toString() },
    schema: undefined,
  };
}

export const source = {
  open(configJson) {
    try {
      settings = parseConfig(configJson);
    } catch (e) {
      throw e instanceof ConfigError ? configError(e.message) : e;
    }
    next = loadPosition();
    stored = next;
    credit = 0;
    lastRefill = performance.now();
    info(`source-js open, resuming at n=${next}`, [
      ['next', next.toString()],
      ['count', settings.count.toString()],
    ]);
  },

  // Never waits: an empty answer makes the host wait its poll interval before asking again.
  poll(maxRecords, _timeoutMs) {
    let wanted = BigInt(maxRecords);
    if (settings.count > 0n) {
      const left = settings.count - next;
      wanted = left < wanted ? left : wanted;
    }
    const take = allowed(Number(wanted));
    const records = [];
    for (let i = 0; i < take; i++) {
      records.push(record(next));
      next += 1n;
    }
    return records;
  },

  // Positions arrive in poll order; the last one is the furthest Danube has persisted.
  commit(positions) {
    let furthest = -1n;
    for (const p of positions) {
      if (p.streamId === STREAM) {
        const n = BigInt(p.value);
        furthest = n > furthest ? n : furthest;
      }
    }
    if (furthest + 1n <= stored) {
      return;
    }
    try {
      set(NEXT_KEY, encoder.encode((furthest + 1n).toString()));
    } catch (e) {
      // Not fatal: a later commit stores a further position; a crash before it repeats records.
      throw retryable(`state.set(${NEXT_KEY}) failed: ${e.payload ?? e}`);
    }
    stored = furthest + 1n;
  },

  close() {},
};
