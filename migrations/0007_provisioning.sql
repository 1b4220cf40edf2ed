-- Cloud provisioning (docs/provisioning.md): the network each environment
-- asks for and what provisioning made of it, the latest preflight
-- checklist, and the outcome of every step of every provisioning
-- operation. AWS itself (resources found by their tags) is the truth about
-- what exists; these rows are what people and the API see.

create table environment_network (
    environment_id uuid primary key,
    organization_id uuid not null,
    -- fjord_api::NetworkSettings
    settings jsonb not null,
    state text not null default 'pending',
    message text,
    -- the latest provisioning operation
    job_id uuid,
    -- fjord_api::NetworkResources, once a run finished
    resources jsonb,
    revision bigint not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint environment_network_environment_fkey foreign key (organization_id, environment_id)
        references environment (organization_id, environment_id) on delete cascade,
    constraint environment_network_job_fkey foreign key (organization_id, job_id)
        references job (organization_id, job_id),
    constraint environment_network_state_check
        check (state in ('pending', 'provisioning', 'ready', 'failed'))
);
create trigger environment_network_set_updated_at before update on environment_network
    for each row execute function set_updated_at();

create table environment_checklist (
    environment_id uuid primary key,
    organization_id uuid not null,
    state text not null default 'running',
    job_id uuid,
    -- [fjord_api::ChecklistItem]
    checks jsonb not null default '[]',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint environment_checklist_environment_fkey foreign key (organization_id, environment_id)
        references environment (organization_id, environment_id) on delete cascade,
    constraint environment_checklist_job_fkey foreign key (organization_id, job_id)
        references job (organization_id, job_id),
    constraint environment_checklist_state_check check (state in ('running', 'done'))
);
create trigger environment_checklist_set_updated_at before update on environment_checklist
    for each row execute function set_updated_at();

create table provisioning_step (
    provisioning_step_id uuid primary key,
    organization_id uuid not null,
    job_id uuid not null,
    step text not null,
    outcome text not null,
    message text not null,
    aws_code text,
    detail jsonb not null default '{}',
    created_at timestamptz not null default now(),
    constraint provisioning_step_job_fkey foreign key (organization_id, job_id)
        references job (organization_id, job_id) on delete cascade,
    constraint provisioning_step_outcome_check check (outcome in ('ok', 'failed'))
);
create index provisioning_step_job_idx on provisioning_step (job_id, provisioning_step_id);
