-- Per-broker status and the bootstrap address, as the agent last reported
-- them (issue 16: the cluster page shows the brokers and where clients
-- connect). The API validates both before they get here; the checks are a
-- second line that keeps a row bounded whatever writes it.

alter table cluster
    add column brokers jsonb not null default '[]',
    add column bootstrap_address text,
    add constraint cluster_brokers_check
        check (jsonb_typeof(brokers) = 'array' and jsonb_array_length(brokers) <= 256),
    add constraint cluster_bootstrap_address_check
        check (char_length(bootstrap_address) between 1 and 1000);
