import type { ReactNode } from 'react';
import { Route, Routes } from 'react-router';
import { Shell } from './components/Shell';
import { NotFoundPage } from './pages/NotFoundPage';
import { OverviewPage } from './pages/OverviewPage';
import { SectionPage } from './pages/SectionPage';
import { SignInPage } from './pages/SignInPage';
import { sections } from './sections';
import { RequireAuth } from './session';

// Pages that exist; every other section shows its placeholder until its issue lands.
const pages: Partial<Record<string, ReactNode>> = {
  '/': <OverviewPage />,
};

/** Every route of the console. Everything but /sign-in needs a session. */
export function AppRoutes() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route
        element={
          <RequireAuth>
            <Shell />
          </RequireAuth>
        }
      >
        {sections.map((section) => (
          <Route
            key={section.path}
            path={section.path}
            element={pages[section.path] ?? <SectionPage section={section} />}
          />
        ))}
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
