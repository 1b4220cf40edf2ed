import { Button, NumberInput, Select, Stack, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { api, ok } from "../api/client";
import { PageTitle } from "../components/Layout";
import { FormError } from "../components/States";
import { useSubmit } from "../components/forms";
import { usePoll } from "../components/usePoll";

export function CreateClusterPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [environment, setEnvironment] = useState<string | null>(params.get("environment_id"));
  const [name, setName] = useState("");
  const [version, setVersion] = useState<string | null>(null);
  const [brokers, setBrokers] = useState<number | string>(3);
  const [storage, setStorage] = useState<number | string>(100);
  const environments = usePoll(async () => (await ok(api.client.GET("/v1/environments", { params: { query: { limit: 200 } } }))).items, 0, []);
  const releases = usePoll(() => ok(api.client.GET("/v1/releases")), 0, []);
  const form = useSubmit(["environment_id", "name", "version", "broker_count", "storage_gib", "config"]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void form.run(async () => {
      const cluster = await ok(
        api.client.POST("/v1/clusters", {
          body: {
            environment_id: environment ?? "",
            name,
            version: version ?? "",
            broker_count: Number(brokers),
            storage_gib: Number(storage),
            config: {},
          },
        }),
      );
      navigate(`/clusters/${cluster.cluster_id}`);
    });
  };

  return (
    <>
      <PageTitle>New cluster</PageTitle>
      <form onSubmit={submit} style={{ maxWidth: 520 }}>
        <Stack>
          <FormError message={form.errors.form} />
          <Select
            label="Environment"
            required
            data={(environments.data ?? []).map((e) => ({ value: e.environment_id, label: `${e.name} (${e.region})` }))}
            value={environment}
            onChange={setEnvironment}
            error={form.field("environment_id")}
          />
          <TextInput label="Name" description="Lowercase letters, digits and '-'" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={form.field("name")} />
          <Select
            label="Version"
            required
            data={(releases.data ?? []).filter((r) => !r.deprecated).map((r) => ({ value: r.version, label: `${r.version} (${r.channel})` }))}
            value={version}
            onChange={setVersion}
            error={form.field("version")}
          />
          <NumberInput label="Brokers" required value={brokers} onChange={setBrokers} error={form.field("broker_count")} />
          <NumberInput label="Storage per broker (GiB)" required value={storage} onChange={setStorage} error={form.field("storage_gib")} />
          <Button type="submit" loading={form.busy}>
            Create cluster
          </Button>
        </Stack>
      </form>
    </>
  );
}
