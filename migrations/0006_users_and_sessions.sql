-- People who sign in to the console: users, their membership (with a role)
-- in organizations, and their browser sessions. See docs/console.md.
--
-- `app_user` is the one table besides `organization` without an
-- `organization_id`: a person is one identity (one email, one password)
-- and may belong to several organizations. Everything a user may reach
-- goes through `membership`, which does carry the organization.

create table app_user (
    user_id uuid primary key,
    -- stored lowercased and trimmed; compared as stored
    email text not null,
    -- PHC string of an argon2id hash; never the password
    password_hash text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint app_user_email_key unique (email),
    constraint app_user_email_check check (
        email = lower(email) and length(email) between 3 and 254 and email like '%_@_%'
    ),
    constraint app_user_password_hash_check check (password_hash like '$argon2id$%')
);
create trigger app_user_set_updated_at before update on app_user
    for each row execute function set_updated_at();

create table membership (
    organization_id uuid not null references organization on delete cascade,
    user_id uuid not null references app_user on delete cascade,
    role text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint membership_pkey primary key (organization_id, user_id),
    constraint membership_role_check check (role in ('admin', 'viewer'))
);
create index membership_user_idx on membership (user_id);
create trigger membership_set_updated_at before update on membership
    for each row execute function set_updated_at();

-- A signed-in browser. The cookie holds a random token; only its sha-256 is
-- kept. A session is bound to one membership: removing the member removes
-- the session, and a role change applies to the next request.
create table session (
    session_id uuid primary key,
    organization_id uuid not null,
    user_id uuid not null,
    token_hash bytea not null,
    -- sent back in the X-CSRF-Token header of every change made with the cookie
    csrf_token text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    constraint session_token_hash_key unique (token_hash),
    constraint session_membership_fkey foreign key (organization_id, user_id)
        references membership (organization_id, user_id) on delete cascade
);
create index session_expires_at_idx on session (expires_at);
