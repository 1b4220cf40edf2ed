-- Long-running work as jobs in Postgres, and fleet rollouts driven by them.
--
-- A worker claims a job with `for update skip locked` and holds it under a
-- lease (locked_until); a worker that dies loses the lease and the job is
-- claimed again, so work resumes after a crash. Handlers are written to be
-- re-run safely. Failures retry with exponential backoff up to
-- max_attempts.

create table job (
    job_id uuid primary key,
    organization_id uuid not null references organization (organization_id) on delete cascade,
    kind text not null,
    payload jsonb not null default '{}',
    state text not null default 'queued',
    attempts integer not null default 0,
    max_attempts integer not null default 10,
    run_after timestamptz not null default now(),
    locked_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint job_organization_key unique (organization_id, job_id),
    constraint job_state_check check (state in ('queued', 'running', 'succeeded', 'failed')),
    constraint job_attempts_check check (attempts >= 0 and max_attempts >= 1)
);
create index job_runnable_idx on job (run_after) where state in ('queued', 'running');
create trigger job_set_updated_at before update on job
    for each row execute function set_updated_at();

create table rollout (
    rollout_id uuid primary key,
    organization_id uuid not null references organization (organization_id) on delete cascade,
    target_version text not null references release (version),
    max_in_flight integer not null,
    state text not null default 'running',
    halted_reason text,
    -- the job currently driving the rollout (an operation users can read)
    job_id uuid,
    revision bigint not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint rollout_organization_key unique (organization_id, rollout_id),
    constraint rollout_max_in_flight_check check (max_in_flight between 1 and 100),
    constraint rollout_state_check check (state in ('running', 'paused', 'halted', 'succeeded')),
    constraint rollout_job_fkey foreign key (organization_id, job_id)
        references job (organization_id, job_id)
);
create trigger rollout_set_updated_at before update on rollout
    for each row execute function set_updated_at();

create table rollout_cluster (
    rollout_id uuid not null,
    organization_id uuid not null,
    cluster_id uuid not null,
    wave integer not null,
    state text not null default 'pending',
    message text not null default '',
    started_at timestamptz,
    finished_at timestamptz,
    constraint rollout_cluster_pkey primary key (rollout_id, cluster_id),
    constraint rollout_cluster_rollout_fkey foreign key (organization_id, rollout_id)
        references rollout (organization_id, rollout_id) on delete cascade,
    constraint rollout_cluster_cluster_fkey foreign key (organization_id, cluster_id)
        references cluster (organization_id, cluster_id) on delete cascade,
    constraint rollout_cluster_wave_check check (wave >= 0),
    constraint rollout_cluster_state_check
        check (state in ('pending', 'in-progress', 'succeeded', 'failed'))
);
