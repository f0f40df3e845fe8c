CREATE TABLE "consent_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "consent_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"customer_id" bigint NOT NULL,
	"channel" text NOT NULL,
	"granted" boolean NOT NULL,
	"source" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_events_channel_known" CHECK ("consent_events"."channel" IN ('email', 'sms'))
);
--> statement-breakpoint
CREATE TABLE "customer_aliases" (
	"external_id" text PRIMARY KEY NOT NULL,
	"customer_id" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "import_jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"format" text NOT NULL,
	"file_name" text,
	"status" text DEFAULT 'running' NOT NULL,
	"stage" text DEFAULT 'read' NOT NULL,
	"rows_read" bigint DEFAULT 0 NOT NULL,
	"accepted" bigint DEFAULT 0 NOT NULL,
	"rejected" bigint DEFAULT 0 NOT NULL,
	"bytes_read" bigint DEFAULT 0 NOT NULL,
	"total_bytes" bigint,
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error" text,
	"created_by" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "import_jobs_status_known" CHECK ("import_jobs"."status" IN ('running', 'completed', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "import_rejections" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "import_rejections_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"job_id" uuid NOT NULL,
	"line" bigint NOT NULL,
	"column" text,
	"code" text NOT NULL,
	"reason" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "email_ciphertext" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "email_index" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "phone_ciphertext" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "phone_index" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "email_consent" boolean;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "email_consent_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "email_consent_source" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "sms_consent" boolean;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "sms_consent_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "sms_consent_source" text;--> statement-breakpoint
ALTER TABLE "interactions" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "consent_events" ADD CONSTRAINT "consent_events_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_aliases" ADD CONSTRAINT "customer_aliases_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_rejections" ADD CONSTRAINT "import_rejections_job_id_import_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."import_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "consent_events_customer_idx" ON "consent_events" USING btree ("customer_id","occurred_at");--> statement-breakpoint
CREATE INDEX "import_jobs_started_idx" ON "import_jobs" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "import_rejections_job_idx" ON "import_rejections" USING btree ("job_id","line");--> statement-breakpoint
CREATE INDEX "import_rejections_code_idx" ON "import_rejections" USING btree ("code");--> statement-breakpoint
CREATE INDEX "customers_email_index_idx" ON "customers" USING btree ("email_index");--> statement-breakpoint
CREATE INDEX "customers_phone_index_idx" ON "customers" USING btree ("phone_index");--> statement-breakpoint
CREATE INDEX "interactions_type_idx" ON "interactions" USING btree ("type");