import { describe, expect, it } from 'vitest';
import { InteractionLineReader } from '../src/bulk-lines.js';
import { CopyRows, loadTail, PieceReader, type PieceReaderInit, type PieceRows } from '../src/bulk-rows.js';
import { sessions } from '../src/session.js';
import { copyText } from '../src/stage.js';
import { fixture } from './helpers.js';
import { IdCache } from '../src/id-cache.js';
import { EventIdDeriver } from '../src/event-ids.js';
import { bindCsvHeader, convertInteraction } from '../src/kinds.js';

// The bulk import reads plain lines of an interactions file without the general CSV reader
// (bulk-lines.ts) and looks ids up in a table of its own (id-cache.ts). Both must change
// nothing but speed: a piece read with the line reader gives byte for byte what the general
// reader gives — rows, event ids, hashes, pending rows, rejections and their lines.

const HEADER = 'event_id,customer_id,item_id,type,value,quantity,amount,occurred_at';
const NOW = Date.UTC(2025, 0, 1);

function readerFor(header: string, generalOnly: boolean, known: number): PieceReader {
  const columns = header.split(',');
  const { bindings } = bindCsvHeader('interactions', columns, undefined, 'f.csv');
  const init: PieceReaderInit = {
    fileName: 'f.csv',
    header: columns,
    bindings,
    delimiter: ',',
    maxRecordBytes: 1 << 20,
    now: NOW,
    interactionTypes: ['view', 'click', 'add_to_cart', 'purchase', 'rating'],
    eventIdPrefix: 'f',
    kind: 'interactions',
    generalOnly,
  };
  const reader = new PieceReader(init);
  // Ids known for some customers and items only: rows of both kinds (formatted and pending).
  reader.learn('customers', Array.from({ length: known }, (_, i) => `c${i}`), Array.from({ length: known }, (_, i) => 1000 + i));
  reader.learn('items', Array.from({ length: known }, (_, i) => `i${i}`), Array.from({ length: known }, (_, i) => 5000 + i));
  return reader;
}

/** What a piece gave, in a form toEqual compares exactly (the COPY text as a string). */
function shape(rows: PieceRows) {
  return { ...rows, copy: Buffer.from(rows.copy).toString('hex'), ends: [...rows.ends], lines: [...rows.lines], hashes: [...rows.hashes], flags: [...rows.flags] };
}

function both(text: string, header = HEADER, known = 30): { fast: ReturnType<typeof shape>; general: ReturnType<typeof shape> } {
  const bytes = Buffer.from(text, 'utf8');
  const fast = readerFor(header, false, known).read(1, new Uint8Array(bytes), 2);
  const general = readerFor(header, true, known).read(1, new Uint8Array(bytes), 2);
  return { fast: shape(fast), general: shape(general) };
}

const LINES = [
  ',c1,i1,view,,,,2024-05-01T10:00:00.000Z',
  ',c2,i2,view,,,,2024-05-01T10:00:00Z',
  'ev-1,c3,i3,click,,,,2024-05-01T10:00:00.123Z',
  ',c4,i4,purchase,,2,19.90,2024-05-02T11:00:00Z',
  ',c4,i4,purchase,,,5,2024-05-02T11:00:00Z',
  ',c5,i5,rating,4.5,,,2024-05-03T12:00:00Z',
  ',c5,i5,rating,7,,,2024-05-03T12:00:00Z', // out of range
  ',c5,i5,rating,,,,2024-05-03T12:00:00Z', // a rating without a value
  ',c6,i6,View,,,,2024-05-03T12:00:00Z', // type in capitals
  ',c6,i6,teleport,,,,2024-05-03T12:00:00Z', // unknown type
  ',c7,i7,view,,,,2030-01-01T00:00:00Z', // in the future
  ',c7,i7,view,,,,2024-02-30T00:00:00Z', // not a date
  ',c7,i7,view,,,,2024-05-03 12:00:00+02:00', // another ISO form
  ',c7,i7,view,,,,1714737600', // Unix seconds
  ',,i7,view,,,,2024-05-03T12:00:00Z', // no customer
  ',c8,,view,,,,2024-05-03T12:00:00Z', // no item
  ',c8,i8,,,,,2024-05-03T12:00:00Z', // no type
  ',c8,i8,view,,,,', // no date
  ', c9 ,i9,view,,,,2024-05-03T12:00:00Z', // spaces around an id
  ',c9,i9,purchase,,1.5,3,2024-05-03T12:00:00Z', // a fractional quantity
  ',c9,i9,purchase,,-1,-3,2024-05-03T12:00:00Z', // a return
  ',c9,i9,purchase,,1,-3,2024-05-03T12:00:00Z', // a negative amount on a sale
  ',c9,i9,view,abc,,,2024-05-03T12:00:00Z', // not a number
  ',c9,i9,view,1e3,,,2024-05-03T12:00:00Z', // a number in another form
  ',c9,i9,view,.5,,,2024-05-03T12:00:00Z',
  ',c9,i9,view,0001.50,,,2024-05-03T12:00:00Z',
  ',c10,i10,view,,,,2024-05-03T12:00:00Z,', // an extra empty column
  ',c10,i10,view,,,,2024-05-03T12:00:00Z,x', // an extra column
  ',c10,i10,view,,,', // missing columns
  '', // an empty line
  '   ', // a blank line
  ',cé,i11,view,,,,2024-05-03T12:00:00Z', // non-ASCII id
  ',c\\12,i12,view,,,,2024-05-03T12:00:00Z', // a backslash (escaped in COPY text)
  `,${'c'.repeat(201)},i12,view,,,,2024-05-03T12:00:00Z`, // an id too long
  `${'e'.repeat(200)},c12,i12,view,,,,2024-05-03T12:00:00Z`, // the longest event id
  ',c13,i13,view,,,,2024-05-03T12:00:00Z\r', // CRLF
  ',c13,i13,view,,,,\r', // CRLF after an empty field
  ',c13\ri13,view,,,,2024-05-03T12:00:00Z', // a lone CR
  ',c14,i14,view,,,,2024-05-03T12:00:00Z\u0000', // NUL
  ',c1,i1,view,,,,2024-05-01T10:00:00.000Z', // the first line again: a repeat (derived id numbered on the main thread)
  'ev-1,c3,i3,click,,,,2024-05-01T10:00:00.123Z', // an explicit id again
];

describe('the line reader of a bulk import', () => {
  it('gives exactly what the general reader gives, line by line', () => {
    for (const line of LINES) {
      const { fast, general } = both(`${line}\n`);
      expect(fast, line).toEqual(general);
    }
  });

  it('gives exactly what the general reader gives for a whole piece, with and without a final newline', () => {
    const text = LINES.join('\n');
    for (const piece of [text, `${text}\n`, `${text}\r\n`]) {
      const { fast, general } = both(piece);
      expect(fast).toEqual(general);
      expect(fast.rejections.length).toBeGreaterThan(10);
      expect(fast.ends.length).toBeGreaterThan(15);
    }
  });

  it('hands a quoted field, which may hold a line break, to the general reader', () => {
    const text = [LINES[0], ',"c1",i1,view,,,,2024-05-01T10:00:00Z', ',c2,"i\n2",view,,,,2024-05-01T10:00:00Z', LINES[1], '"ev,2",c3,i3,click,,,,2024-05-01T10:00:00Z'].join('\n');
    const { fast, general } = both(text);
    expect(fast).toEqual(general);
    expect(fast.lines).toEqual([2, 3, 4, 6, 7]);
  });

  it('reads columns in another order, and files without an event id column', () => {
    const header = 'occurred_at,type,item_id,customer_id,amount,quantity,value,extra';
    const text = ['2024-05-01T10:00:00Z,view,i1,c1,,,,x', '2024-05-01T10:00:00Z,purchase,i2,c2,9.5,1,,', '2024-05-01T10:00:00Z,view,i3,c3,,,,x,y'].join('\n');
    expect(both(text, header).fast).toEqual(both(text, header).general);
    const noIds = 'customer_id,item_id,type,occurred_at';
    const rows = ['c1,i1,view,2024-05-01T10:00:00Z', 'c1,i1,view,2024-05-01T10:00:00Z', 'c40,i1,click,2024-05-01T10:00:00Z'].join('\n');
    const { fast, general } = both(rows, noIds);
    expect(fast).toEqual(general);
    expect(fast.pending).toHaveLength(1);
  });

  it('agrees with the general reader on lines mangled at random', () => {
    const alphabet = ['"', ',', ' ', '\r', '\n', 'é', '-', '.', 'x', '0', '5', 'T', ':', 'Z', '\\', '\t'];
    let seed = 20261205;
    const random = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    for (let round = 0; round < 40; round++) {
      const lines: string[] = [];
      for (let i = 0; i < 200; i++) {
        let line = LINES[Math.floor(random() * LINES.length)] ?? '';
        const edits = Math.floor(random() * 3);
        for (let e = 0; e < edits; e++) {
          const at = Math.floor(random() * (line.length + 1));
          const ch = alphabet[Math.floor(random() * alphabet.length)] ?? '';
          line = random() < 0.5 ? line.slice(0, at) + ch + line.slice(at) : line.slice(0, at) + ch + line.slice(at + 1);
        }
        lines.push(line);
      }
      const { fast, general } = both(lines.join('\n'));
      expect(fast).toEqual(general);
    }
  });

  it('reads plain lines itself and hands on only the others', () => {
    const columns = HEADER.split(',');
    const { bindings } = bindCsvHeader('interactions', columns, undefined, 'f.csv');
    const reader = InteractionLineReader.for(columns, bindings, ',');
    const rows: number[] = [];
    const general: [number, number, number][] = [];
    const ctx = { now: NOW, interactionTypes: ['view', 'click', 'purchase', 'rating'], source: '', eventIds: { next: (text: string) => `h:${text.length}`, nextUnits: (_units: Uint16Array, length: number) => `h:${length}` } };
    const text = [LINES[0], LINES[3], LINES[9], LINES[5], ',c1,"i1",view,,,,2024-05-01T10:00:00Z', LINES[0]].join('\r\n');
    reader?.read(Buffer.from(text), 10, ctx, { row: (line) => rows.push(line), general: (start, end, line) => general.push([start, end, line]) });
    expect(rows).toEqual([10, 11, 13]);
    const lineStart = (n: number) => text.split('\r\n').slice(0, n).join('\r\n').length + 2;
    expect(general).toEqual([
      [lineStart(2), lineStart(3), 12], // an unknown type: the general reader gives the reason
      [lineStart(4), text.length, 14], // a quote: the rest of the piece
    ]);
  });

  it('leaves layouts it cannot read to the general reader', () => {
    const columns = HEADER.split(',');
    const { bindings } = bindCsvHeader('interactions', columns, undefined, 'f.csv');
    expect(InteractionLineReader.for(columns, bindings, ',')).not.toBeNull();
    expect(InteractionLineReader.for(columns, bindings, '\t')).not.toBeNull();
    expect(InteractionLineReader.for(columns, bindings, '"')).toBeNull();
    expect(InteractionLineReader.for(columns, bindings, '||')).toBeNull();
    const constant = bindCsvHeader('interactions', ['customer_id', 'item_id', 'occurred_at'], { type: { constant: 'view' } }, 'f.csv');
    expect(InteractionLineReader.for(['customer_id', 'item_id', 'occurred_at'], constant.bindings, ',')).toBeNull();
  });
});

describe('the id cache of a bulk import', () => {
  it('answers as a Map does, for short, long and non-ASCII ids, through growth', () => {
    const cache = new IdCache(1_000_000);
    const reference = new Map<string, number>();
    const key = (i: number) => (i % 7 === 0 ? `customer-with-a-long-external-id-${i}` : i % 11 === 0 ? `é${i}` : `c${i}`);
    for (let i = 0; i < 50_000; i++) {
      const id = i % 3 === 0 ? 2 ** 40 + i : i + 1; // ids past 32 bits too
      cache.set(key(i), id);
      reference.set(key(i), id);
    }
    cache.set('c1', 77); // set again: replaced
    reference.set('c1', 77);
    expect(cache.size).toBe(reference.size);
    for (let i = 0; i < 60_000; i++) expect(cache.get(key(i))).toBe(reference.get(key(i)));
    expect(cache.get('')).toBeUndefined();
    expect(cache.get('c')).toBeUndefined();
  });

  it('starts again when full, as the Map it replaced did', () => {
    const cache = new IdCache(100);
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i);
    expect(cache.get('k99')).toBe(99);
    cache.set('k100', 100);
    expect(cache.size).toBe(1);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k100')).toBe(100);
  });
});

describe('the binary COPY rows of a bulk import', () => {
  it('store exactly what the text format stored, through every way a row is written', async () => {
    const f = await fixture();
    try {
      let seed = 7;
      const random = () => {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        return seed / 2 ** 32;
      };
      const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
      const texts = ['e:ev-1', 'f:AbC-_09', 'e:tab\there', 'e:back\\slash', 'e:line\nbreak\r', 'e:é😀', 'view', 'add_to_cart', ''];
      const values = [null, 0, -0, 1, -3, 4.5, 0.1 + 0.2, 1e-300, 123456789.125, -1e21];
      const quantities = [null, 1, -1, 1_000_000, -1_000_000];
      const amounts = [null, 0, 1.005, 0.125, 0.005, -0.005, 19.9, 1e-7, 5e-324, 123456789.12, 999999999999.99, -999999999999.99, 0.3333333333333333];
      const moments = [0, 1, Date.UTC(2000, 0, 1), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(1650, 5, 1, 1, 2, 3, 4), Date.UTC(2400, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999)];
      const ids = [1, 7, 10, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
      const columns = 'event_id, customer_id, item_id, type, value, quantity, amount, occurred_at';
      const copyNumber = (n: number | null) => (n === null ? '\\N' : String(n));
      let text = '';
      const rows = new CopyRows(64);
      for (let i = 0; i < 600; i++) {
        const row = {
          eventId: `${pick(texts)}-${i}`,
          customerExternalId: 'c',
          itemExternalId: 'i',
          type: pick(texts),
          value: pick(values),
          quantity: pick(quantities),
          amount: pick(amounts),
          occurredAt: new Date(i < moments.length ? (moments[i] as number) : pick(moments.slice(0, -1)) + Math.floor(random() * 4e11)),
        };
        const customer = pick(ids);
        const item = pick(ids);
        const eventId = i % 3 === 2 ? `f:renumbered-${i}:1` : row.eventId;
        text += `${copyText(eventId)}\t${customer}\t${item}\t${copyText(row.type)}\t${copyNumber(row.value === 0 ? 0 : row.value)}\t${copyNumber(row.quantity)}\t${copyNumber(row.amount)}\t${new Date(row.occurredAt).toISOString()}\n`;
        if (i % 3 === 0) rows.appendLoadRow(row.eventId, customer, item, row);
        else if (i % 3 === 1) rows.appendPendingRow(row.eventId, customer, item, loadTail(row), null);
        else {
          // A row written, then copied with a numbered event id (a repeat of derived content).
          const single = new CopyRows(16);
          single.appendLoadRow(row.eventId, customer, item, row);
          rows.appendWithEventId(single.bytes(), eventId);
        }
      }
      const s = sessions(f.db);
      await s.query(`CREATE TABLE copy_text (LIKE interactions INCLUDING DEFAULTS)`);
      await s.query(`CREATE TABLE copy_binary (LIKE interactions INCLUDING DEFAULTS)`);
      await s.transaction((session) => session.copyIn('copy_text', columns.split(', '), text));
      await s.transaction((session) => session.copyIn('copy_binary', columns.split(', '), rows.bytes(), 'binary'));
      const read = async (table: string) => (await s.query(`SELECT ${columns.replace('amount', 'amount::text')}, occurred_at::text AS at FROM ${table} ORDER BY event_id`)).rows;
      const stored = await read('copy_binary');
      expect(stored).toHaveLength(600);
      expect(stored).toEqual(await read('copy_text'));
      await s.query('DROP TABLE copy_text, copy_binary');
    } finally {
      await f.close();
    }
  });

  it('keep the line of a repeats-table row', async () => {
    const f = await fixture();
    try {
      const row = { eventId: 'e:x', customerExternalId: 'c', itemExternalId: 'i', type: 'view', value: null, quantity: null, amount: 9.99, occurredAt: new Date(Date.UTC(2024, 0, 1)) };
      const load = new CopyRows(16);
      load.appendLoadRow(row.eventId, 3, 4, row);
      const repeats = new CopyRows(16);
      repeats.appendRepeatRow(load.bytes(), 12);
      repeats.appendPendingRow('e:y', 5, 6, loadTail(row), 2 ** 40);
      const s = sessions(f.db);
      await s.query('CREATE TABLE copy_repeats (LIKE interactions INCLUDING DEFAULTS, line bigint NOT NULL)');
      await s.transaction((session) => session.copyIn('copy_repeats', ['event_id', 'customer_id', 'item_id', 'type', 'value', 'quantity', 'amount', 'occurred_at', 'line'], repeats.bytes(), 'binary'));
      const { rows } = await s.query<{ event_id: string; customer_id: string; line: string; amount: string }>('SELECT event_id, customer_id::text, line::text, amount::text FROM copy_repeats ORDER BY event_id');
      expect(rows).toEqual([
        { event_id: 'e:x', customer_id: '3', line: '12', amount: '9.99' },
        { event_id: 'e:y', customer_id: '5', line: String(2 ** 40), amount: '9.99' },
      ]);
      await s.query('DROP TABLE copy_repeats');
    } finally {
      await f.close();
    }
  });
});

describe('derived event ids', () => {
  it('stay what earlier versions derived, so re-importing a file stores nothing twice', () => {
    const ctx = { now: Date.UTC(2025, 0, 1), interactionTypes: ['view', 'purchase', 'rating'], source: '', eventIds: new EventIdDeriver('f', 'interactions') };
    const cases: [string[], string][] = [
      [['', 'c1', 'i1', 'view', '', '', '', '2024-05-01T10:00:00.000Z'], 'f:9XtvASrKj8dLROkHcdCblA'],
      [['', 'c1', 'i1', 'view', '', '', '', '2024-05-01T10:00:00.000Z'], 'f:9XtvASrKj8dLROkHcdCblA:1'],
      [['', 'cé', 'sku-1', 'purchase', '', '2', '19.90', '2023-12-31T23:59:59.001Z'], 'f:lkxf-AtB7ZAbXJdGE9xpdA'],
      [['', 'c\u001fx', 'i', 'rating', '4.5', '', '', '2024-05-01T10:00:00Z'], 'f:mhuy67V7kKrI38aunwasXg'],
      [['', 'c2', 'i2', 'purchase', '', '-1', '-5.5', '2024-05-01T10:00:00Z'], 'f:QIlzozVJbHwrWxuI6tQOuQ'],
      [['', 'c2', 'i2', 'rating', '0.5', '', '', '2024-05-01 10:00:00+02:00'], 'f:cbm8dUwsmpp8OIX2By1N6A'],
    ];
    for (const [cells, id] of cases) {
      const row = convertInteraction((field) => cells[field], ctx);
      expect('code' in row ? row : row.eventId, cells.join(',')).toBe(id);
    }
  });
});
