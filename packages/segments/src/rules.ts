import { customers, items, schema, selectRows, type Executor } from '@clientele/db';
import { DomainError } from '@clientele/domain';
import { param, sql, type SQL } from 'drizzle-orm';
import { FEATURE_NAMES, featureDefinition, featureSelect, isFeatureName, type FeatureName } from './features.js';
import { show } from './input.js';

// Rule-based segments: a JSON condition tree (and / or / not over leaf conditions) is checked
// node by node — an error names the path of the bad node, e.g.
// "conditions.and[2].or[0].field: unknown field 'ltv'" — and compiled to one SQL condition over
// the customers table. Every value from the tree reaches the database as a bound parameter;
// the SQL text is built only from this file's constants (column names come from fixed maps).

export const RULE_LIMITS = { maxDepth: 6, maxNodes: 100, maxChildren: 50, maxListValues: 1000, maxText: 500, maxDays: 3650 } as const;

export const RULE_OPERATORS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'between', 'in', 'notIn', 'contains', 'startsWith', 'isSet', 'isNotSet'] as const;
export type RuleOperator = (typeof RULE_OPERATORS)[number];

type ValueType = 'string' | 'number' | 'date' | 'boolean';

const OPERATORS_BY_TYPE: Record<ValueType, readonly RuleOperator[]> = {
  string: ['eq', 'neq', 'in', 'notIn', 'contains', 'startsWith', 'isSet', 'isNotSet'],
  number: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'between', 'in', 'notIn', 'isSet', 'isNotSet'],
  date: ['gt', 'gte', 'lt', 'lte', 'between', 'isSet', 'isNotSet'],
  boolean: ['eq', 'neq'],
};

/** Customer fields a rule can test, with their type and column (constants, never input). */
const CUSTOMER_FIELDS = {
  id: { type: 'string', column: sql`c.external_id` },
  name: { type: 'string', column: sql`c.name` },
  country: { type: 'string', column: sql`c.country` },
  createdAt: { type: 'date', column: sql`c.created_at` },
  hasEmail: { type: 'boolean', column: sql`(c.email_index IS NOT NULL)` },
  hasPhone: { type: 'boolean', column: sql`(c.phone_index IS NOT NULL)` },
  isStub: { type: 'boolean', column: sql`coalesce(c.attributes @> '{"stub": true}'::jsonb, false)` },
} as const satisfies Record<string, { type: ValueType; column: SQL }>;

export type CustomerField = keyof typeof CUSTOMER_FIELDS;
export const CUSTOMER_FIELD_NAMES = Object.keys(CUSTOMER_FIELDS);

const isCustomerField = (name: unknown): name is CustomerField => typeof name === 'string' && Object.hasOwn(CUSTOMER_FIELDS, name);

const NODE_KINDS = ['and', 'or', 'not', 'field', 'attribute', 'consent', 'feature', 'segment', 'score', 'purchased', 'viewedNotBought'] as const;
type NodeKind = (typeof NODE_KINDS)[number];

/** A comparison's operator and its checked operand(s). */
export type Comparison =
  | { op: 'eq' | 'neq'; value: string | number | boolean }
  | { op: 'gt' | 'gte' | 'lt' | 'lte'; value: number | string }
  | { op: 'between'; value: [number, number] | [string, string] }
  | { op: 'in' | 'notIn'; value: string[] | number[] }
  | { op: 'contains' | 'startsWith'; value: string }
  | { op: 'isSet' | 'isNotSet' };

/** A checked condition tree. `path` is where the node was in the input, for later errors. */
export type RuleNode =
  | { kind: 'and' | 'or'; path: string; children: RuleNode[] }
  | { kind: 'not'; path: string; child: RuleNode }
  | ({ kind: 'field'; path: string; field: CustomerField; type: ValueType } & Comparison)
  | ({ kind: 'attribute'; path: string; key: string; type: ValueType | null } & Comparison)
  | { kind: 'consent'; path: string; channel: 'email' | 'sms'; granted: boolean | null }
  | ({ kind: 'feature'; path: string; feature: FeatureName } & Comparison)
  | { kind: 'segment'; path: string; index: number; run: string | null }
  | ({ kind: 'score'; path: string; score: 'churn' | 'value' } & Comparison)
  | { kind: 'purchased'; path: string; category: string | null; item: string | null; atLeast: number; withinDays: number | null }
  | { kind: 'viewedNotBought'; path: string; item: string; withinDays: number | null };

function fail(path: string, message: string): DomainError {
  return new DomainError('BAD_USER_INPUT', `${path}: ${message}`, path);
}

function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(path: string, node: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(node)) {
    if (!allowed.includes(key)) throw fail(`${path}.${key}`, `unknown key '${key}' (expected ${allowed.join(', ')})`);
  }
}

function text(path: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > RULE_LIMITS.maxText) {
    throw fail(path, `expected a non-empty string of at most ${RULE_LIMITS.maxText} characters, got ${show(value)}`);
  }
  return value;
}

function finiteNumber(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(path, `expected a number, got ${show(value)}`);
  return value;
}

function isoDate(path: string, value: unknown): string {
  const date = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw fail(path, `expected an ISO-8601 date such as 2011-06-30, got ${show(value)}`);
  return date.toISOString();
}

function scalar(path: string, type: ValueType, value: unknown): string | number | boolean {
  switch (type) {
    case 'string':
      return text(path, value);
    case 'number':
      return finiteNumber(path, value);
    case 'date':
      return isoDate(path, value);
    case 'boolean':
      if (typeof value !== 'boolean') throw fail(path, `expected true or false, got ${show(value)}`);
      return value;
  }
}

/** Checks `op` and `value` of a comparison for a value of the given type. */
function comparison(path: string, node: Record<string, unknown>, type: ValueType, subject: string, allowed?: readonly RuleOperator[]): Comparison {
  const ops = allowed ?? OPERATORS_BY_TYPE[type];
  const op = node['op'];
  if (typeof op !== 'string' || !(ops as readonly string[]).includes(op)) {
    throw fail(`${path}.op`, `expected one of ${ops.join(', ')} for ${subject}, got ${show(op)}`);
  }
  const value = node['value'];
  const at = `${path}.value`;
  switch (op as RuleOperator) {
    case 'isSet':
    case 'isNotSet':
      if (value !== undefined && value !== null) throw fail(at, `expected no value with ${op}, got ${show(value)}`);
      return { op: op === 'isSet' ? 'isSet' : 'isNotSet' };
    case 'eq':
    case 'neq':
      return { op: op === 'eq' ? 'eq' : 'neq', value: scalar(at, type, value) };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const checked = scalar(at, type, value);
      if (typeof checked === 'boolean') throw fail(at, `expected a ${type}, got ${show(value)}`);
      return { op: op === 'gt' ? 'gt' : op === 'gte' ? 'gte' : op === 'lt' ? 'lt' : 'lte', value: checked };
    }
    case 'between': {
      if (!Array.isArray(value) || value.length !== 2) throw fail(at, `expected [low, high], got ${show(value)}`);
      if (type === 'number') {
        const low = finiteNumber(`${at}[0]`, value[0]);
        const high = finiteNumber(`${at}[1]`, value[1]);
        if (low > high) throw fail(at, `expected low ≤ high, got ${show(value)}`);
        return { op: 'between', value: [low, high] };
      }
      const low = isoDate(`${at}[0]`, value[0]);
      const high = isoDate(`${at}[1]`, value[1]);
      if (low > high) throw fail(at, `expected the earlier date first, got ${show(value)}`);
      return { op: 'between', value: [low, high] };
    }
    case 'in':
    case 'notIn': {
      if (!Array.isArray(value) || value.length === 0 || value.length > RULE_LIMITS.maxListValues) {
        throw fail(at, `expected a list of 1 to ${RULE_LIMITS.maxListValues} values, got ${show(value)}`);
      }
      const which = op === 'in' ? 'in' : 'notIn';
      if (type === 'number') return { op: which, value: value.map((v: unknown, i) => finiteNumber(`${at}[${i}]`, v)) };
      return { op: which, value: value.map((v: unknown, i) => text(`${at}[${i}]`, v)) };
    }
    case 'contains':
    case 'startsWith':
      return { op: op === 'contains' ? 'contains' : 'startsWith', value: text(at, value) };
  }
}

function days(path: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > RULE_LIMITS.maxDays) {
    throw fail(path, `expected a whole number of days from 1 to ${RULE_LIMITS.maxDays}, got ${show(value)}`);
  }
  return value;
}

/** The type an attribute comparison implies from its operator and value. */
function attributeType(path: string, node: Record<string, unknown>): ValueType | null {
  const op = node['op'];
  const value = node['value'];
  if (op === 'isSet' || op === 'isNotSet') return null;
  if (op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte' || op === 'between') return 'number';
  if (op === 'contains' || op === 'startsWith') return 'string';
  const sample = Array.isArray(value) ? value[0] : value;
  if (typeof sample === 'number') return 'number';
  if (typeof sample === 'boolean') return 'boolean';
  if (typeof sample === 'string') return 'string';
  throw fail(`${path}.value`, `expected a string, number or boolean to compare the attribute with, got ${show(value)}`);
}

/**
 * Checks a condition tree and returns it typed. Errors are DomainErrors (BAD_USER_INPUT) whose
 * message and `field` start with the path of the bad node under `root`.
 */
export function validateRule(input: unknown, root = 'conditions'): RuleNode {
  let nodes = 0;
  const visit = (value: unknown, path: string, depth: number): RuleNode => {
    if (depth > RULE_LIMITS.maxDepth) throw fail(path, `the tree is nested deeper than ${RULE_LIMITS.maxDepth} levels`);
    if (++nodes > RULE_LIMITS.maxNodes) throw fail(path, `the tree has more than ${RULE_LIMITS.maxNodes} conditions`);
    if (!plainObject(value)) throw fail(path, `expected a condition object such as {"and": [...]} or {"field": "country", "op": "eq", "value": "GB"}, got ${show(value)}`);
    const kinds = NODE_KINDS.filter((kind) => Object.hasOwn(value, kind));
    if (kinds.length === 0) {
      const first = Object.keys(value)[0];
      if (first === undefined) throw fail(path, `expected one of the keys ${NODE_KINDS.join(', ')}, got an empty object`);
      throw fail(`${path}.${first}`, `unknown condition '${first}' (expected one of ${NODE_KINDS.join(', ')})`);
    }
    if (kinds.length > 1) throw fail(path, `expected one condition per object, got ${kinds.join(' and ')} together (wrap them in "and")`);
    const kind: NodeKind = kinds[0]!;
    switch (kind) {
      case 'and':
      case 'or': {
        onlyKeys(path, value, [kind]);
        const list = value[kind];
        if (!Array.isArray(list) || list.length === 0 || list.length > RULE_LIMITS.maxChildren) {
          throw fail(`${path}.${kind}`, `expected a list of 1 to ${RULE_LIMITS.maxChildren} conditions, got ${show(list)}`);
        }
        return { kind, path, children: list.map((child: unknown, i) => visit(child, `${path}.${kind}[${i}]`, depth + 1)) };
      }
      case 'not':
        onlyKeys(path, value, ['not']);
        return { kind, path, child: visit(value['not'], `${path}.not`, depth + 1) };
      case 'field': {
        onlyKeys(path, value, ['field', 'op', 'value']);
        const field = value['field'];
        if (!isCustomerField(field)) throw fail(`${path}.field`, `unknown field ${show(field)} (expected one of ${CUSTOMER_FIELD_NAMES.join(', ')})`);
        const type = CUSTOMER_FIELDS[field].type;
        const checked = comparison(path, value, type, `the ${type} field '${field}'`);
        // Countries are stored as upper-case ISO codes; accept 'gb' for 'GB'.
        if (field === 'country') {
          if (checked.op === 'in' || checked.op === 'notIn') return { kind, path, field, type, op: checked.op, value: checked.value.map((v) => String(v).toUpperCase()) };
          if (checked.op === 'eq' || checked.op === 'neq') return { kind, path, field, type, op: checked.op, value: String(checked.value).toUpperCase() };
        }
        return { kind, path, field, type, ...checked };
      }
      case 'attribute': {
        onlyKeys(path, value, ['attribute', 'op', 'value']);
        const key = value['attribute'];
        if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key)) {
          throw fail(`${path}.attribute`, `expected an attribute name of 1 to 64 letters, digits, '_', '.' or '-', got ${show(key)}`);
        }
        const type = attributeType(path, value);
        const checked = comparison(path, value, type ?? 'string', `the attribute '${key}'`, type === null ? ['isSet', 'isNotSet'] : undefined);
        return { kind, path, key, type, ...checked };
      }
      case 'consent': {
        onlyKeys(path, value, ['consent', 'granted']);
        const channel = value['consent'];
        if (channel !== 'email' && channel !== 'sms') throw fail(`${path}.consent`, `expected email or sms, got ${show(channel)}`);
        const granted = value['granted'];
        if (granted !== true && granted !== false && granted !== null) {
          throw fail(`${path}.granted`, `expected true, false or null (never stated), got ${show(granted)}`);
        }
        return { kind, path, channel, granted };
      }
      case 'feature': {
        onlyKeys(path, value, ['feature', 'op', 'value']);
        const feature = value['feature'];
        if (!isFeatureName(feature)) throw fail(`${path}.feature`, `unknown feature ${show(feature)} (expected one of ${FEATURE_NAMES.join(', ')})`);
        return { kind, path, feature, ...comparison(path, value, 'number', `the feature '${feature}'`) };
      }
      case 'segment': {
        onlyKeys(path, value, ['segment', 'run']);
        const index = value['segment'];
        if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 1000) {
          throw fail(`${path}.segment`, `expected a segment index (0, 1, …) of a k-means run, got ${show(index)}`);
        }
        const run = value['run'];
        if (run !== undefined && run !== null && (typeof run !== 'string' || !/^[0-9a-f-]{36}$/i.test(run))) {
          throw fail(`${path}.run`, `expected a segmentation run id, or nothing for the active run, got ${show(run)}`);
        }
        return { kind, path, index, run: typeof run === 'string' ? run.toLowerCase() : null };
      }
      case 'score': {
        onlyKeys(path, value, ['score', 'op', 'value']);
        const score = value['score'];
        if (score !== 'churn' && score !== 'value') throw fail(`${path}.score`, `expected churn or value, got ${show(score)}`);
        const ops: RuleOperator[] = ['gt', 'gte', 'lt', 'lte', 'between', 'isSet', 'isNotSet'];
        return { kind, path, score, ...comparison(path, value, 'number', `the ${score} score`, ops) };
      }
      case 'purchased': {
        onlyKeys(path, value, ['purchased']);
        const at = `${path}.purchased`;
        const spec = value['purchased'];
        if (!plainObject(spec)) throw fail(at, `expected {category?, item?, atLeast?, withinDays?}, got ${show(spec)}`);
        onlyKeys(at, spec, ['category', 'item', 'atLeast', 'withinDays']);
        const category = spec['category'] === undefined || spec['category'] === null ? null : text(`${at}.category`, spec['category']);
        const item = spec['item'] === undefined || spec['item'] === null ? null : text(`${at}.item`, spec['item']);
        const atLeast = spec['atLeast'] ?? 1;
        if (typeof atLeast !== 'number' || !Number.isInteger(atLeast) || atLeast < 1 || atLeast > 100_000) {
          throw fail(`${at}.atLeast`, `expected a whole number of orders from 1 to 100000, got ${show(atLeast)}`);
        }
        return { kind, path, category, item, atLeast, withinDays: days(`${at}.withinDays`, spec['withinDays']) };
      }
      case 'viewedNotBought': {
        onlyKeys(path, value, ['viewedNotBought']);
        const at = `${path}.viewedNotBought`;
        const spec = value['viewedNotBought'];
        if (!plainObject(spec)) throw fail(at, `expected {item, withinDays?}, got ${show(spec)}`);
        onlyKeys(at, spec, ['item', 'withinDays']);
        return { kind, path, item: text(`${at}.item`, spec['item']), withinDays: days(`${at}.withinDays`, spec['withinDays']) };
      }
    }
  };
  return visit(input, root, 1);
}

// ---- compiling ---------------------------------------------------------------------------

export interface RuleContext {
  /** "Now" for features and for "in the last D days". */
  referenceDate: Date;
  /** Window of the feature values (and the default for behaviour conditions). */
  windowDays: number;
}

/** A checked tree with its references resolved, compiled to a condition over `customers c`. */
export interface CompiledRule {
  tree: RuleNode;
  context: RuleContext;
  where: SQL;
  /** The condition reads feature values (`f.*`), so the query joins the feature SELECT. */
  usesFeatures: boolean;
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A typed parameter: every value from a rule is bound, with an explicit SQL type. */
function bound(value: string | number | boolean, type: ValueType): SQL {
  switch (type) {
    case 'string':
      return sql`${String(value)}::text`;
    case 'number':
      return sql`${Number(value)}::float8`;
    case 'date':
      return sql`${String(value)}::timestamptz`;
    case 'boolean':
      return sql`${Boolean(value)}::boolean`;
  }
}

function compare(expression: SQL, type: ValueType, c: Comparison): SQL {
  switch (c.op) {
    case 'isSet':
      return sql`(${expression} IS NOT NULL)`;
    case 'isNotSet':
      return sql`(${expression} IS NULL)`;
    case 'eq':
      return sql`(${expression} = ${bound(c.value, type)})`;
    case 'neq':
      return sql`(${expression} IS DISTINCT FROM ${bound(c.value, type)})`;
    case 'gt':
      return sql`(${expression} > ${bound(c.value, type)})`;
    case 'gte':
      return sql`(${expression} >= ${bound(c.value, type)})`;
    case 'lt':
      return sql`(${expression} < ${bound(c.value, type)})`;
    case 'lte':
      return sql`(${expression} <= ${bound(c.value, type)})`;
    case 'between':
      return sql`(${expression} BETWEEN ${bound(c.value[0], type)} AND ${bound(c.value[1], type)})`;
    case 'in':
    case 'notIn': {
      const list = type === 'number' ? sql`${param(c.value.map(Number))}::float8[]` : sql`${param(c.value.map(String))}::text[]`;
      return c.op === 'in' ? sql`(${expression} = ANY(${list}))` : sql`(${expression} IS NULL OR NOT (${expression} = ANY(${list})))`;
    }
    case 'contains':
      return sql`(${expression} ILIKE ${`%${escapeLike(c.value)}%`}::text)`;
    case 'startsWith':
      return sql`(${expression} ILIKE ${`${escapeLike(c.value)}%`}::text)`;
  }
}

/** A JSON attribute as a typed SQL value: null when missing or of another JSON type. */
function attributeExpression(key: string, type: ValueType | null): SQL {
  const value = sql`(c.attributes -> ${key}::text)`;
  switch (type) {
    case null:
      return value;
    case 'number':
      return sql`(CASE WHEN jsonb_typeof(${value}) = 'number' THEN (c.attributes ->> ${key}::text)::float8 END)`;
    case 'boolean':
      return sql`(CASE WHEN jsonb_typeof(${value}) = 'boolean' THEN (c.attributes ->> ${key}::text)::boolean END)`;
    default:
      return sql`(CASE WHEN jsonb_typeof(${value}) = 'string' THEN c.attributes ->> ${key}::text END)`;
  }
}

/** `f.<feature>` for a checked feature name; features that are never null read 0 for customers without history. */
function featureExpression(feature: FeatureName): SQL {
  const columnName = sql.identifier(feature);
  return featureDefinition(feature).missing === null ? sql`coalesce(f.${columnName}, 0)` : sql`f.${columnName}`;
}

const { segmentationRuns, scoreModels } = schema;

/** Resolves what the tree names (runs, models, items, categories) and compiles it. */
export async function compileRule(db: Executor, tree: RuleNode, context: RuleContext): Promise<CompiledRule> {
  const ref = sql`${context.referenceDate.toISOString()}::timestamptz`;
  const since = (withinDays: number | null) => sql`(${ref} - make_interval(days => ${withinDays ?? context.windowDays}::int))`;
  let usesFeatures = false;
  const itemIds = new Map<string, number>();
  const activeModels = new Map<string, string | null>();
  let activeRun: { id: string; k: number } | null | undefined;

  const itemId = async (path: string, externalId: string): Promise<number> => {
    const known = itemIds.get(externalId);
    if (known !== undefined) return known;
    const [row] = await selectRows<{ id: number | string }>(db, sql`SELECT id FROM ${items} WHERE external_id = ${externalId}::text`);
    if (!row) throw fail(path, `unknown item ${show(externalId)}`);
    itemIds.set(externalId, Number(row.id));
    return Number(row.id);
  };

  const build = async (node: RuleNode): Promise<SQL> => {
    switch (node.kind) {
      case 'and':
      case 'or': {
        const parts = await Promise.all(node.children.map(build));
        return sql`(${sql.join(parts, node.kind === 'and' ? sql` AND ` : sql` OR `)})`;
      }
      case 'not':
        // NOT over a condition that is unknown (null) for a customer counts them as matching the NOT.
        return sql`(NOT coalesce(${await build(node.child)}, false))`;
      case 'field':
        return compare(CUSTOMER_FIELDS[node.field].column, node.type, node);
      case 'attribute':
        return compare(attributeExpression(node.key, node.type), node.type ?? 'string', node);
      case 'consent': {
        const column = node.channel === 'email' ? sql`c.email_consent` : sql`c.sms_consent`;
        return node.granted === null ? sql`(${column} IS NULL)` : node.granted ? sql`(${column} IS TRUE)` : sql`(${column} IS FALSE)`;
      }
      case 'feature':
        usesFeatures = true;
        return compare(featureExpression(node.feature), 'number', node);
      case 'segment': {
        let run: { id: string; k: number } | null;
        if (node.run) {
          const [row] = await db.select({ id: segmentationRuns.id, k: segmentationRuns.k }).from(segmentationRuns).where(sql`${segmentationRuns.id} = ${node.run}::uuid`);
          if (!row) throw fail(`${node.path}.run`, `segmentation run '${node.run}' does not exist`);
          run = row;
        } else {
          if (activeRun === undefined) {
            const [row] = await db.select({ id: segmentationRuns.id, k: segmentationRuns.k }).from(segmentationRuns).where(sql`${segmentationRuns.active}`);
            activeRun = row ?? null;
          }
          run = activeRun;
          if (!run) throw fail(`${node.path}.segment`, 'there is no active segmentation run (run one, or name a run with "run")');
        }
        if (node.index >= run.k) throw fail(`${node.path}.segment`, `expected a segment index from 0 to ${run.k - 1} (the run has k = ${run.k}), got ${node.index}`);
        return sql`EXISTS (SELECT 1 FROM segment_memberships m WHERE m.run_id = ${run.id}::uuid AND m.customer_id = c.id AND m.segment = ${node.index}::int)`;
      }
      case 'score': {
        if (!activeModels.has(node.score)) {
          const [row] = await db.select({ id: scoreModels.id }).from(scoreModels).where(sql`${scoreModels.kind} = ${node.score}::text AND ${scoreModels.active}`);
          activeModels.set(node.score, row?.id ?? null);
        }
        const model = activeModels.get(node.score);
        if (!model) throw fail(`${node.path}.score`, `there is no active ${node.score} model (train one first)`);
        const scored = sql`SELECT 1 FROM customer_scores s WHERE s.model_id = ${model}::uuid AND s.customer_id = c.id`;
        if (node.op === 'isSet') return sql`EXISTS (${scored})`;
        if (node.op === 'isNotSet') return sql`NOT EXISTS (${scored})`;
        return sql`EXISTS (${scored} AND ${compare(sql`s.score`, 'number', node)})`;
      }
      case 'purchased': {
        const at = `${node.path}.purchased`;
        const filters: SQL[] = [];
        if (node.item !== null) filters.push(sql` AND i.item_id = ${await itemId(`${at}.item`, node.item)}::bigint`);
        if (node.category !== null) {
          const [known] = await selectRows<{ one: number }>(db, sql`SELECT 1 AS one FROM ${items} WHERE ${node.category}::text = ANY(categories) LIMIT 1`);
          if (!known) throw fail(`${at}.category`, `unknown category ${show(node.category)}: no item has it`);
          filters.push(sql` AND EXISTS (SELECT 1 FROM ${items} it WHERE it.id = i.item_id AND ${node.category}::text = ANY(it.categories))`);
        }
        const orders = sql`FROM interactions i
          WHERE i.customer_id = c.id AND i.type = 'purchase' AND (i.quantity IS NULL OR i.quantity > 0)
            AND i.occurred_at > ${since(node.withinDays)} AND i.occurred_at <= ${ref}${sql.join(filters)}`;
        // Orders, not lines: purchases at the same moment are one order (as in the features).
        return node.atLeast === 1 ? sql`EXISTS (SELECT 1 ${orders})` : sql`((SELECT count(DISTINCT i.occurred_at) ${orders}) >= ${node.atLeast}::int)`;
      }
      case 'viewedNotBought': {
        const id = await itemId(`${node.path}.viewedNotBought.item`, node.item);
        const start = since(node.withinDays);
        return sql`(EXISTS (SELECT 1 FROM interactions v WHERE v.customer_id = c.id AND v.item_id = ${id}::bigint AND v.type = 'view'
                              AND v.occurred_at > ${start} AND v.occurred_at <= ${ref})
          AND NOT EXISTS (SELECT 1 FROM interactions p WHERE p.customer_id = c.id AND p.item_id = ${id}::bigint AND p.type = 'purchase'
                            AND (p.quantity IS NULL OR p.quantity > 0) AND p.occurred_at > ${start} AND p.occurred_at <= ${ref}))`;
      }
    }
  };
  const where = await build(tree);
  return { tree, context, where, usesFeatures };
}

/** `customers c`, joined with the feature SELECT when the rule reads features. */
export function ruleSource(rule: CompiledRule): SQL {
  return rule.usesFeatures
    ? sql`${customers} c LEFT JOIN (${featureSelect(rule.context)}) f ON f.customer_id = c.id`
    : sql`${customers} c`;
}
