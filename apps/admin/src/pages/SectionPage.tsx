import type { Section } from '../sections';
import { PageHeader } from '../components/PageHeader';

/** A section that is not built yet: its heading and what will live there. */
export function SectionPage({ section }: { section: Section }) {
  return (
    <>
      <PageHeader title={section.label} description={section.description} />
      <div className="empty-state">
        <p>Nothing here yet: this part of the console arrives in a later release.</p>
      </div>
    </>
  );
}
