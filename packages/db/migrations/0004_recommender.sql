CREATE TABLE "recommender_activations" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "recommender_activations_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"version" integer NOT NULL,
	"action" text NOT NULL,
	"actor" text,
	"reason" text,
	"activated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "recommender_activations_action_known" CHECK ("recommender_activations"."action" IN ('activate', 'rollback', 'auto'))
);
--> statement-breakpoint
CREATE TABLE "recommender_artifacts" (
	"version" integer PRIMARY KEY NOT NULL,
	"format" integer NOT NULL,
	"bytes" "bytea" NOT NULL,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recommender_models" (
	"version" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "recommender_models_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"kind" text NOT NULL,
	"params" jsonb NOT NULL,
	"data" jsonb NOT NULL,
	"metrics" jsonb NOT NULL,
	"primary_metric" text NOT NULL,
	"primary_value" double precision,
	"search" jsonb,
	"training_seconds" double precision NOT NULL,
	"job_id" uuid,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "recommender_models_kind_known" CHECK ("recommender_models"."kind" IN ('explicit', 'implicit'))
);
--> statement-breakpoint
ALTER TABLE "recommender_activations" ADD CONSTRAINT "recommender_activations_version_recommender_models_version_fk" FOREIGN KEY ("version") REFERENCES "public"."recommender_models"("version") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recommender_artifacts" ADD CONSTRAINT "recommender_artifacts_version_recommender_models_version_fk" FOREIGN KEY ("version") REFERENCES "public"."recommender_models"("version") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "recommender_models_kind_idx" ON "recommender_models" USING btree ("kind","version");