-- What agents report beyond contact: their latest decision on an intent
-- (applied, refused by a check, waiting for a guardrail), shown on the
-- environment, and a bounded history of each cluster's reported status for
-- charts (the newest 1,000 samples per cluster are kept).

alter table environment add column agent_last_intent_report jsonb;

create table cluster_status_sample (
    cluster_status_sample_id bigint generated always as identity primary key,
    organization_id uuid not null,
    cluster_id uuid not null,
    phase text not null,
    observed_version text,
    brokers_ready integer,
    metrics jsonb not null default '{}',
    created_at timestamptz not null default now(),
    constraint cluster_status_sample_cluster_fkey foreign key (organization_id, cluster_id)
        references cluster (organization_id, cluster_id) on delete cascade
);
create index cluster_status_sample_cluster_idx
    on cluster_status_sample (cluster_id, cluster_status_sample_id desc);
