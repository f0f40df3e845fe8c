CREATE TABLE "customer_scores" (
	"model_id" uuid NOT NULL,
	"customer_id" bigint NOT NULL,
	"score" double precision NOT NULL,
	"features" double precision[] NOT NULL,
	CONSTRAINT "customer_scores_model_id_customer_id_pk" PRIMARY KEY("model_id","customer_id")
);
--> statement-breakpoint
CREATE TABLE "score_models" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"version" integer NOT NULL,
	"active" boolean DEFAULT false NOT NULL,
	"job_id" uuid,
	"features_version" integer NOT NULL,
	"features" text[] NOT NULL,
	"reference_date" timestamp with time zone NOT NULL,
	"horizon_days" integer NOT NULL,
	"window_days" integer NOT NULL,
	"metrics" jsonb NOT NULL,
	"model" jsonb NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"training_count" integer NOT NULL,
	"evaluation_count" integer NOT NULL,
	"scored_count" integer NOT NULL,
	"timings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone,
	CONSTRAINT "score_models_kind_known" CHECK ("score_models"."kind" IN ('churn', 'value'))
);
--> statement-breakpoint
CREATE TABLE "segment_memberships" (
	"run_id" uuid NOT NULL,
	"customer_id" bigint NOT NULL,
	"segment" integer NOT NULL,
	"distance" real NOT NULL,
	CONSTRAINT "segment_memberships_run_id_customer_id_pk" PRIMARY KEY("run_id","customer_id")
);
--> statement-breakpoint
CREATE TABLE "segmentation_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"version" integer NOT NULL,
	"active" boolean DEFAULT false NOT NULL,
	"job_id" uuid,
	"features_version" integer NOT NULL,
	"features" text[] NOT NULL,
	"k" integer NOT NULL,
	"k_chosen_by" text NOT NULL,
	"seed" bigint NOT NULL,
	"reference_date" timestamp with time zone NOT NULL,
	"window_days" integer NOT NULL,
	"customer_count" integer NOT NULL,
	"silhouette" double precision,
	"silhouette_curve" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"inertia" double precision NOT NULL,
	"profiles" jsonb NOT NULL,
	"model" jsonb NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"timings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "segments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"definition" jsonb NOT NULL,
	"reference_date" timestamp with time zone,
	"window_days" integer DEFAULT 365 NOT NULL,
	"last_count" integer,
	"last_evaluated_at" timestamp with time zone,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "customer_scores" ADD CONSTRAINT "customer_scores_model_id_score_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."score_models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_scores" ADD CONSTRAINT "customer_scores_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "segment_memberships" ADD CONSTRAINT "segment_memberships_run_id_segmentation_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."segmentation_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "segment_memberships" ADD CONSTRAINT "segment_memberships_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "customer_scores_customer_idx" ON "customer_scores" USING btree ("customer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "score_models_kind_version_key" ON "score_models" USING btree ("kind","version");--> statement-breakpoint
CREATE UNIQUE INDEX "score_models_one_active" ON "score_models" USING btree ("kind") WHERE "score_models"."active";--> statement-breakpoint
CREATE INDEX "segment_memberships_customer_idx" ON "segment_memberships" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "segment_memberships_segment_idx" ON "segment_memberships" USING btree ("run_id","segment","customer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "segmentation_runs_version_key" ON "segmentation_runs" USING btree ("version");--> statement-breakpoint
CREATE UNIQUE INDEX "segmentation_runs_one_active" ON "segmentation_runs" USING btree ("active") WHERE "segmentation_runs"."active";--> statement-breakpoint
CREATE INDEX "segmentation_runs_created_idx" ON "segmentation_runs" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "segments_name_key" ON "segments" USING btree ("name");--> statement-breakpoint
CREATE INDEX "segments_created_idx" ON "segments" USING btree ("created_at");