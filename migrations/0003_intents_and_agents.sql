-- Intents (the signed desired state of an environment, one row per
-- generation, kept as history) and the agents' short-lived access tokens.

create table intent (
    intent_id uuid primary key,
    organization_id uuid not null,
    environment_id uuid not null,
    generation bigint not null,
    content_hash text not null,
    -- the exact bytes that were signed (a JSON intent document)
    payload bytea not null,
    signature bytea not null,
    key_id text not null,
    created_at timestamptz not null default now(),
    constraint intent_generation_key unique (environment_id, generation),
    constraint intent_generation_check check (generation >= 1),
    constraint intent_environment_fkey foreign key (organization_id, environment_id)
        references environment (organization_id, environment_id) on delete cascade
);

create table agent_access_token (
    token_hash bytea primary key,
    organization_id uuid not null,
    environment_id uuid not null,
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    constraint agent_access_token_environment_fkey foreign key (organization_id, environment_id)
        references environment (organization_id, environment_id) on delete cascade
);
create index agent_access_token_expires_idx on agent_access_token (expires_at);
