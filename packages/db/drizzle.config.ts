import { defineConfig } from 'drizzle-kit';

// `pnpm --filter @clientele/db db:generate --name <change>` writes a new SQL migration from
// the schema. The same migrations run on the embedded database and on PostgreSQL.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema*.ts',
  out: './migrations',
});
