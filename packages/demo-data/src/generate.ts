import { Random, WeightedSampler } from './random.js';

// Generated demo data with the structure real shop data has, so the models have something
// to find: a heavy-tailed item popularity, customers in taste clusters that favour a few
// categories, a view → click → cart → purchase funnel, repeat purchases of consumables,
// ratings that follow taste, and a long tail of barely active customers.

export const DEMO_CATEGORIES = [
  { name: 'Books', price: 14, consumable: false },
  { name: 'Music', price: 12, consumable: false },
  { name: 'Home', price: 45, consumable: false },
  { name: 'Kitchen', price: 30, consumable: false },
  { name: 'Garden', price: 35, consumable: false },
  { name: 'Toys', price: 25, consumable: false },
  { name: 'Beauty', price: 18, consumable: true },
  { name: 'Sports', price: 40, consumable: false },
  { name: 'Outdoors', price: 60, consumable: false },
  { name: 'Electronics', price: 120, consumable: false },
  { name: 'Fashion', price: 50, consumable: false },
  { name: 'Grocery', price: 6, consumable: true },
] as const;

const ADJECTIVES = ['Classic', 'Modern', 'Compact', 'Deluxe', 'Eco', 'Essential', 'Vintage', 'Smart', 'Handmade', 'Premium', 'Everyday', 'Travel'];
const NOUNS: Record<string, string[]> = {
  Books: ['Novel', 'Cookbook', 'Atlas', 'Biography', 'Poetry Collection', 'Guide'],
  Music: ['Vinyl LP', 'Box Set', 'Live Album', 'Soundtrack', 'EP'],
  Home: ['Lamp', 'Cushion', 'Throw', 'Mirror', 'Vase', 'Clock'],
  Kitchen: ['Knife Set', 'Teapot', 'Skillet', 'Mixing Bowl', 'Espresso Cups', 'Chopping Board'],
  Garden: ['Planter', 'Hose', 'Trowel', 'Bird Feeder', 'Seed Kit', 'Lantern'],
  Toys: ['Puzzle', 'Building Set', 'Plush Bear', 'Board Game', 'Kite', 'Train Set'],
  Beauty: ['Face Cream', 'Shampoo', 'Lip Balm', 'Soap Bar', 'Serum', 'Hand Lotion'],
  Sports: ['Yoga Mat', 'Dumbbells', 'Water Bottle', 'Tennis Racket', 'Running Belt', 'Jump Rope'],
  Outdoors: ['Tent', 'Sleeping Bag', 'Backpack', 'Head Torch', 'Camping Stove', 'Hiking Poles'],
  Electronics: ['Headphones', 'Speaker', 'Charger', 'E-reader', 'Keyboard', 'Webcam'],
  Fashion: ['Scarf', 'Jacket', 'Sneakers', 'Wool Hat', 'Belt', 'Sunglasses'],
  Grocery: ['Coffee Beans', 'Green Tea', 'Olive Oil', 'Dark Chocolate', 'Granola', 'Honey'],
};
const FIRST = ['Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Radia', 'Tim', 'Frances', 'Edsger', 'Hedy', 'John', 'Katherine', 'Donald', 'Sophie', 'Niklaus', 'Anita', 'Guido', 'Mary', 'Bjarne', 'Karen', 'James', 'Leslie', 'Yukihiro', 'Shafi', 'Tony', 'Joan', 'Vint'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Perlman', 'Berners-Lee', 'Allen', 'Dijkstra', 'Lamarr', 'McCarthy', 'Johnson', 'Knuth', 'Wilson', 'Wirth', 'Borg', 'Rossum', 'Kenneth', 'Stroustrup', 'Jones', 'Gosling', 'Lamport', 'Matsumoto', 'Goldwasser', 'Hoare', 'Clarke', 'Cerf'];
const COUNTRIES = [['GB', 40], ['DE', 12], ['FR', 11], ['NL', 6], ['IE', 5], ['ES', 6], ['IT', 6], ['US', 8], ['SE', 3], ['AU', 3]] as const;

export const INTERACTION_TYPES = ['view', 'click', 'add_to_cart', 'purchase', 'rating'] as const;
export type DemoInteractionType = (typeof INTERACTION_TYPES)[number];

export interface DemoCustomer {
  externalId: string;
  name: string;
  email: string;
  country: string;
  /** Taste cluster; kept in attributes so segmentation can be checked against it. */
  cluster: number;
  signupAt: Date;
  attributes: Record<string, unknown>;
}

export interface DemoItem {
  externalId: string;
  title: string;
  categories: string[];
  price: number;
  inStock: boolean;
}

/** Interactions column by column (a few hundred thousand rows without an object each). */
export interface DemoInteractions {
  length: number;
  customer: Int32Array;
  item: Int32Array;
  type: Uint8Array;
  /** Rating value; NaN where none. */
  value: Float32Array;
  /** Purchase quantity; 0 where none. */
  quantity: Int16Array;
  /** Purchase amount in the item's currency; NaN where none. */
  amount: Float64Array;
  /** Milliseconds since the epoch. */
  occurredAt: Float64Array;
}

export interface DemoData {
  customers: DemoCustomer[];
  items: DemoItem[];
  interactions: DemoInteractions;
  clusters: number;
}

export interface DemoOptions {
  seed?: number;
  customers?: number;
  items?: number;
  /** About how many interactions to generate in all. */
  interactions?: number;
  clusters?: number;
  /** The data ends at this time (default: now); it spans the year before. */
  now?: Date;
}

const DAY = 86_400_000;

class Growable {
  length = 0;
  customer = new Int32Array(1024);
  item = new Int32Array(1024);
  type = new Uint8Array(1024);
  value = new Float32Array(1024);
  quantity = new Int16Array(1024);
  amount = new Float64Array(1024);
  occurredAt = new Float64Array(1024);

  push(customer: number, item: number, type: DemoInteractionType, at: number, value = Number.NaN, quantity = 0, amount = Number.NaN): void {
    if (this.length === this.customer.length) this.grow();
    const i = this.length++;
    this.customer[i] = customer;
    this.item[i] = item;
    this.type[i] = INTERACTION_TYPES.indexOf(type);
    this.value[i] = value;
    this.quantity[i] = quantity;
    this.amount[i] = amount;
    this.occurredAt[i] = at;
  }

  private grow(): void {
    const size = this.customer.length * 2;
    const grow = <T extends Int32Array | Uint8Array | Float32Array | Int16Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(a);
      return next;
    };
    this.customer = grow(this.customer, (n) => new Int32Array(n));
    this.item = grow(this.item, (n) => new Int32Array(n));
    this.type = grow(this.type, (n) => new Uint8Array(n));
    this.value = grow(this.value, (n) => new Float32Array(n));
    this.quantity = grow(this.quantity, (n) => new Int16Array(n));
    this.amount = grow(this.amount, (n) => new Float64Array(n));
    this.occurredAt = grow(this.occurredAt, (n) => new Float64Array(n));
  }

  finish(): DemoInteractions {
    const n = this.length;
    return {
      length: n,
      customer: this.customer.slice(0, n),
      item: this.item.slice(0, n),
      type: this.type.slice(0, n),
      value: this.value.slice(0, n),
      quantity: this.quantity.slice(0, n),
      amount: this.amount.slice(0, n),
      occurredAt: this.occurredAt.slice(0, n),
    };
  }
}

export function generateDemoData(options: DemoOptions = {}): DemoData {
  const random = new Random(options.seed ?? 20261123);
  const customerCount = options.customers ?? 4000;
  const itemCount = options.items ?? 1500;
  const target = options.interactions ?? 300_000;
  const clusterCount = options.clusters ?? 8;
  const end = (options.now ?? new Date()).getTime();
  const start = end - 365 * DAY;
  const categoryCount = DEMO_CATEGORIES.length;

  // Items: a primary category each, a log-normal price around the category's typical price,
  // and a Zipf-like popularity over a random ranking of the catalogue.
  const items: DemoItem[] = [];
  const itemCategory = new Int32Array(itemCount);
  const popularity = new Float64Array(itemCount);
  const ranks = Array.from({ length: itemCount }, (_, i) => i);
  for (let i = ranks.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [ranks[i], ranks[j]] = [ranks[j] ?? 0, ranks[i] ?? 0];
  }
  for (let i = 0; i < itemCount; i++) {
    const c = i % categoryCount;
    const category = DEMO_CATEGORIES[c] ?? DEMO_CATEGORIES[0];
    itemCategory[i] = c;
    popularity[i] = 1 / Math.pow((ranks[i] ?? 0) + 1, 1.1);
    const categories: string[] = [category.name];
    if (random.next() < 0.15) categories.push(random.pick(DEMO_CATEGORIES).name);
    const price = Math.max(0.5, category.price * Math.exp(0.5 * random.normal()));
    items.push({
      externalId: `sku-${String(i + 1).padStart(5, '0')}`,
      title: `${random.pick(ADJECTIVES)} ${random.pick(NOUNS[category.name] ?? ['Item'])} ${i + 1}`,
      categories: [...new Set(categories)],
      price: Math.round(price * 100) / 100,
      inStock: random.next() > 0.07,
    });
  }
  const perCategory: { items: number[]; sampler: WeightedSampler }[] = [];
  for (let c = 0; c < categoryCount; c++) {
    const members = items.map((_, i) => i).filter((i) => itemCategory[i] === c);
    perCategory.push({ items: members, sampler: new WeightedSampler(members.map((i) => popularity[i] ?? 0)) });
  }

  // Taste clusters: each favours three categories strongly, the rest weakly.
  const clusterTastes: WeightedSampler[] = [];
  const clusterWeights: number[][] = [];
  for (let k = 0; k < clusterCount; k++) {
    const weights = new Array<number>(categoryCount).fill(0.15);
    for (let f = 0; f < 3; f++) weights[(k * 3 + f * 5 + random.int(2)) % categoryCount] = 3 + 4 * random.next();
    clusterWeights.push(weights);
    clusterTastes.push(new WeightedSampler(weights));
  }
  const clusterSizes = new WeightedSampler(Array.from({ length: clusterCount }, (_, k) => 1 + (k % 3)));
  const countries = new WeightedSampler(COUNTRIES.map(([, w]) => w));

  // Customers with a heavy-tailed activity level.
  const customers: DemoCustomer[] = [];
  const activity = new Float64Array(customerCount);
  let activityTotal = 0;
  for (let i = 0; i < customerCount; i++) {
    const first = random.pick(FIRST);
    const last = random.pick(LAST);
    const cluster = clusterSizes.sample(random);
    const signupAt = new Date(end - Math.floor(random.next() * 730 * DAY));
    activity[i] = Math.exp(1.1 * random.normal());
    activityTotal += activity[i] ?? 0;
    customers.push({
      externalId: `cust-${String(i + 1).padStart(6, '0')}`,
      name: `${first} ${last}`,
      email: `${first}.${last}.${i + 1}@example.com`.toLowerCase(),
      country: COUNTRIES[countries.sample(random)]?.[0] ?? 'GB',
      cluster,
      signupAt,
      attributes: { source: random.pick(['web', 'app', 'store']), demoCluster: cluster },
    });
  }

  // Sessions: each yields on average ~2.2 events (views dominate, a few purchases).
  const out = new Growable();
  const eventsPerSession = 2.2;
  const sessionsTotal = target / eventsPerSession;
  for (let u = 0; u < customerCount; u++) {
    const customer = customers[u];
    if (!customer) continue;
    const first = Math.max(start, customer.signupAt.getTime());
    const span = end - first;
    const sessions = Math.max(1, Math.round(((activity[u] ?? 0) / activityTotal) * sessionsTotal * (0.8 + 0.4 * random.next())));
    const taste = clusterTastes[customer.cluster];
    if (!taste) continue;
    for (let s = 0; s < sessions; s++) {
      const at = first + Math.floor(random.next() * span);
      const c = random.next() < 0.12 ? random.int(categoryCount) : taste.sample(random);
      const pool = perCategory[c];
      if (!pool || pool.items.length === 0) continue;
      const item = pool.items[pool.sampler.sample(random)] ?? 0;
      out.push(u, item, 'view', at);
      if (random.next() >= 0.55) continue;
      out.push(u, item, 'click', at + 20_000);
      const affinity = (clusterWeights[customer.cluster]?.[c] ?? 0.15) / 7;
      if (random.next() >= 0.25 + 0.3 * affinity) continue;
      out.push(u, item, 'add_to_cart', at + 60_000);
      if (random.next() >= 0.55) continue;
      const price = items[item]?.price ?? 1;
      const quantity = 1 + (random.next() < 0.2 ? 1 + random.int(3) : 0);
      out.push(u, item, 'purchase', at + 120_000, Number.NaN, quantity, Math.round(price * quantity * 100) / 100);
      if (random.next() < 0.25) {
        const rating = Math.min(5, Math.max(0.5, Math.round((3.1 + 2.2 * affinity + 0.7 * random.normal()) * 2) / 2));
        out.push(u, item, 'rating', at + 3 * DAY, rating);
      }
      // Consumables are bought again every few weeks, for a while.
      if (DEMO_CATEGORIES[c]?.consumable) {
        let next = at + Math.floor(random.exponential(30) * DAY) + 7 * DAY;
        for (let r = 0; r < 6 && next < end && random.next() < 0.6; r++) {
          out.push(u, item, 'purchase', next, Number.NaN, quantity, Math.round(price * quantity * 100) / 100);
          next += Math.floor(random.exponential(30) * DAY) + 7 * DAY;
        }
      }
    }
  }
  return { customers, items, interactions: out.finish(), clusters: clusterCount };
}
