-- The tenant inventory: organizations, their API keys, cloud accounts,
-- environments, clusters and topics; the release catalog; the audit log and
-- stored idempotent responses.
--
-- Tenant safety is enforced twice: every query filters by organization_id,
-- and every reference between tenant rows is a composite foreign key on
-- (organization_id, <parent>_id), so a row can never point at another
-- organization's row even if a query forgot the filter.

create table organization (
    organization_id uuid primary key,
    name text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint organization_name_key unique (name),
    constraint organization_name_check check (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
);
create trigger organization_set_updated_at before update on organization
    for each row execute function set_updated_at();

create table api_key (
    api_key_id uuid primary key,
    organization_id uuid not null references organization (organization_id) on delete cascade,
    name text not null,
    scope text not null,
    -- sha-256 of the secret; the secret itself is never stored
    token_hash bytea not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_key_token_hash_key unique (token_hash),
    constraint api_key_scope_check check (scope in ('admin', 'read-only')),
    constraint api_key_name_check check (char_length(name) between 1 and 100)
);
create index api_key_organization_idx on api_key (organization_id, api_key_id);
create trigger api_key_set_updated_at before update on api_key
    for each row execute function set_updated_at();

create table cloud_account (
    cloud_account_id uuid primary key,
    organization_id uuid not null references organization (organization_id) on delete cascade,
    name text not null,
    aws_account_id text not null,
    role_arn text not null,
    external_id text not null,
    revision bigint not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint cloud_account_organization_key unique (organization_id, cloud_account_id),
    constraint cloud_account_name_key unique (organization_id, name),
    constraint cloud_account_aws_account_id_check check (aws_account_id ~ '^[0-9]{12}$')
);
create trigger cloud_account_set_updated_at before update on cloud_account
    for each row execute function set_updated_at();

create table environment (
    environment_id uuid primary key,
    organization_id uuid not null,
    cloud_account_id uuid not null,
    name text not null,
    region text not null,
    -- sha-256 of the one-time registration token, cleared once used
    registration_token_hash bytea,
    -- sha-256 of the agent's long-lived credential
    agent_credential_hash bytea,
    agent_registered_at timestamptz,
    agent_last_seen_at timestamptz,
    agent_version text,
    observed_generation bigint,
    revision bigint not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint environment_organization_key unique (organization_id, environment_id),
    constraint environment_name_key unique (organization_id, name),
    constraint environment_registration_token_hash_key unique (registration_token_hash),
    constraint environment_agent_credential_hash_key unique (agent_credential_hash),
    constraint environment_cloud_account_fkey foreign key (organization_id, cloud_account_id)
        references cloud_account (organization_id, cloud_account_id)
);
create trigger environment_set_updated_at before update on environment
    for each row execute function set_updated_at();

-- The vendor's catalog of releases; shared by every organization (read-only
-- to tenants), the one table without organization_id.
create table release (
    version text primary key,
    channel text not null,
    published_at timestamptz not null default now(),
    deprecated boolean not null default false,
    notes text not null default '',
    constraint release_channel_check check (channel in ('stable', 'rapid', 'preview')),
    constraint release_version_check check (version ~ '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9a-z.]+)?$')
);
insert into release (version, channel, notes) values
    ('0.1.0', 'stable', 'first release'),
    ('0.2.0', 'rapid', 'second release');

create table cluster (
    cluster_id uuid primary key,
    organization_id uuid not null,
    environment_id uuid not null,
    name text not null,
    version text not null references release (version),
    broker_count integer not null,
    storage_gib integer not null,
    config jsonb not null default '{}',
    -- as last reported by the agent
    phase text not null default 'pending',
    observed_version text,
    brokers_ready integer,
    conditions jsonb not null default '[]',
    metrics jsonb not null default '{}',
    reported_at timestamptz,
    revision bigint not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint cluster_organization_key unique (organization_id, cluster_id),
    constraint cluster_name_key unique (organization_id, environment_id, name),
    constraint cluster_environment_fkey foreign key (organization_id, environment_id)
        references environment (organization_id, environment_id),
    constraint cluster_broker_count_check check (broker_count between 1 and 64),
    constraint cluster_storage_gib_check check (storage_gib between 1 and 65536)
);
create trigger cluster_set_updated_at before update on cluster
    for each row execute function set_updated_at();

create table topic (
    topic_id uuid primary key,
    organization_id uuid not null,
    cluster_id uuid not null,
    name text not null,
    partitions integer not null,
    replication_factor integer not null,
    config jsonb not null default '{}',
    revision bigint not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint topic_name_key unique (organization_id, cluster_id, name),
    constraint topic_cluster_fkey foreign key (organization_id, cluster_id)
        references cluster (organization_id, cluster_id) on delete cascade,
    constraint topic_partitions_check check (partitions between 1 and 10000),
    constraint topic_replication_factor_check check (replication_factor between 1 and 5)
);
create trigger topic_set_updated_at before update on topic
    for each row execute function set_updated_at();

create table audit_record (
    audit_record_id uuid primary key,
    organization_id uuid not null references organization (organization_id) on delete cascade,
    -- `api-key:<id>`, `agent:<environment id>` or `admin-cli`
    actor text not null,
    action text not null,
    object_type text not null,
    object_id uuid not null,
    source text,
    detail jsonb not null default '{}',
    created_at timestamptz not null default now()
);
create index audit_record_organization_idx on audit_record (organization_id, audit_record_id);

create table idempotency_record (
    organization_id uuid not null references organization (organization_id) on delete cascade,
    idempotency_key text not null,
    request_hash bytea not null,
    status smallint not null,
    etag text,
    body bytea not null,
    created_at timestamptz not null default now(),
    constraint idempotency_record_pkey primary key (organization_id, idempotency_key)
);
