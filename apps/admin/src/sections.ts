// The console's sections, in navigation order. The side navigation and the routes are both
// built from this list, so a new section is one entry here plus its page.

export interface Section {
  /** Route path, also the navigation link. */
  path: string;
  label: string;
  /** What the section is for, shown under its heading. */
  description: string;
}

export const overviewSection: Section = {
  path: '/',
  label: 'Overview',
  description: 'Who is signed in and whether the API and its database are ready.',
};

export const sections: readonly Section[] = [
  overviewSection,
  {
    path: '/customers',
    label: 'Customers',
    description:
      'Browse and search customers, their interactions, consent, and churn and value scores.',
  },
  {
    path: '/items',
    label: 'Items',
    description: 'The product catalogue: items, categories, availability and popularity.',
  },
  {
    path: '/segments',
    label: 'Segments',
    description: 'Rule-based and learned (k-means) customer segments, with their sizes.',
  },
  {
    path: '/campaigns',
    label: 'Campaigns',
    description: 'Campaigns that target segments with a random holdout, and their measured uplift.',
  },
  {
    path: '/models',
    label: 'Models',
    description:
      'Trained recommendation, segmentation and scoring models: versions, metrics, the active one.',
  },
  {
    path: '/jobs',
    label: 'Jobs',
    description: 'Training, import and campaign jobs with their progress and results.',
  },
  {
    path: '/api-keys',
    label: 'API keys',
    description: 'Partner API keys and their scopes (read, write, admin): create and revoke.',
  },
  {
    path: '/audit-log',
    label: 'Audit log',
    description: 'Who changed what and when, across users and API keys.',
  },
];
