-- Interactions become a table partitioned by list on `segment` (issue 4). The existing table,
-- with its rows and ids, becomes the partition `interactions_live` (segment 0), where the API,
-- small imports and demo data write. A large import (PostgreSQL) loads a table of its own
-- without indexes, builds them at the end and attaches it as one more partition
-- (segment = nextval('interactions_segment_seq')). Event ids are unique per partition (the
-- unique index has to include the partition key); writers keep them unique across partitions
-- (see @clientele/ingest bulk.ts and @clientele/domain interactions.ts).
-- Identity columns are not supported on partitioned tables in PostgreSQL 15: ids come from a
-- plain sequence, set past the existing ids. The `type` btree is dropped: queries by type
-- filter rows found through the other indexes, and it cost ~3 s per million rows written.
-- Event ids are compared for equality only: they use the "C" collation, whose btrees build and
-- update faster than with a linguistic one (1.5 s instead of 2.2 s per million here).
ALTER TABLE "interactions" RENAME TO "interactions_live";--> statement-breakpoint
ALTER TABLE "interactions_live" ALTER COLUMN "id" DROP IDENTITY;--> statement-breakpoint
CREATE SEQUENCE "interactions_id_seq" AS bigint;--> statement-breakpoint
SELECT setval('interactions_id_seq', coalesce((SELECT max("id") FROM "interactions_live"), 0) + 1, false);--> statement-breakpoint
CREATE SEQUENCE "interactions_segment_seq" AS integer START WITH 1;--> statement-breakpoint
ALTER TABLE "interactions_live" ALTER COLUMN "id" SET DEFAULT nextval('interactions_id_seq');--> statement-breakpoint
ALTER TABLE "interactions_live" ADD COLUMN "segment" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "interactions_live" ADD CONSTRAINT "interactions_live_segment_check" CHECK ("segment" = 0);--> statement-breakpoint
ALTER TABLE "interactions_live" DROP CONSTRAINT "interactions_customer_id_customers_id_fk";--> statement-breakpoint
ALTER TABLE "interactions_live" DROP CONSTRAINT "interactions_item_id_items_id_fk";--> statement-breakpoint
ALTER TABLE "interactions_live" DROP CONSTRAINT "interactions_pkey";--> statement-breakpoint
ALTER TABLE "interactions_live" ADD CONSTRAINT "interactions_live_pkey" PRIMARY KEY ("id", "segment");--> statement-breakpoint
DROP INDEX "interactions_event_id_key";--> statement-breakpoint
DROP INDEX "interactions_type_idx";--> statement-breakpoint
ALTER TABLE "interactions_live" ALTER COLUMN "event_id" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
CREATE UNIQUE INDEX "interactions_live_event_id_segment_idx" ON "interactions_live" USING btree ("event_id", "segment");--> statement-breakpoint
ALTER INDEX "interactions_customer_time_idx" RENAME TO "interactions_live_customer_id_occurred_at_idx";--> statement-breakpoint
ALTER INDEX "interactions_item_idx" RENAME TO "interactions_live_item_id_idx";--> statement-breakpoint
ALTER INDEX "interactions_occurred_at_idx" RENAME TO "interactions_live_occurred_at_idx";--> statement-breakpoint
CREATE TABLE "interactions" (
	"id" bigint DEFAULT nextval('interactions_id_seq') NOT NULL,
	"customer_id" bigint NOT NULL,
	"item_id" bigint NOT NULL,
	"type" text NOT NULL,
	"value" double precision,
	"quantity" integer,
	"amount" numeric(14, 2),
	"occurred_at" timestamp with time zone NOT NULL,
	"event_id" text COLLATE "C",
	"source" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"segment" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "interactions_id_segment_pk" PRIMARY KEY ("id", "segment")
) PARTITION BY LIST ("segment");--> statement-breakpoint
ALTER SEQUENCE "interactions_id_seq" OWNED BY "interactions"."id";--> statement-breakpoint
CREATE UNIQUE INDEX "interactions_event_id_segment_key" ON "interactions" USING btree ("event_id", "segment");--> statement-breakpoint
CREATE INDEX "interactions_customer_time_idx" ON "interactions" USING btree ("customer_id", "occurred_at");--> statement-breakpoint
CREATE INDEX "interactions_item_idx" ON "interactions" USING btree ("item_id");--> statement-breakpoint
CREATE INDEX "interactions_occurred_at_idx" ON "interactions" USING btree ("occurred_at");--> statement-breakpoint
ALTER TABLE "interactions" ATTACH PARTITION "interactions_live" FOR VALUES IN (0);--> statement-breakpoint
ALTER TABLE "interactions" ADD CONSTRAINT "interactions_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "interactions" ADD CONSTRAINT "interactions_item_id_items_id_fk" FOREIGN KEY ("item_id") REFERENCES "public"."items"("id") ON DELETE cascade ON UPDATE no action;
