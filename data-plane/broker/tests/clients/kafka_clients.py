"""Drives a Python Kafka client against the broker for the Rust tests.

usage: kafka_clients.py CLIENT BOOTSTRAP ACTION [ARGS...]
  CLIENT   confluent | kafka-python
  ACTION   create TOPIC PARTITIONS | delete TOPIC | topics
           produce TOPIC COUNT     | consume TOPIC COUNT
           group-consume TOPIC COUNT GROUP  (subscribe, read COUNT values, commit)
           groups | delete-group GROUP
           create-with TOPIC PARTITIONS KEY=VALUE...  (prints "ok" or {code, message})
           describe TOPIC            ({name: [value, source]} of every config)
           describe-broker ID        ({name: [value, source, read_only]})
           alter TOPIC KEY=VALUE...  (incremental; KEY= deletes the override)
           cluster                   ({cluster_id, controller_id, brokers})
           watermarks TOPIC          ([low, high] of partition 0)
           produce-each TOPIC COUNT  (one request, so one batch, per record)

Prints one JSON document on stdout; exits non-zero on any failure.
"""

import json
import sys
import time

TIMEOUT_S = 20


def key_values(pairs):
    return dict(pair.split("=", 1) for pair in pairs)


def confluent_admin(bootstrap, action, args):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ConfigSource,
        NewTopic,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    if action == "create-with":
        topic = NewTopic(
            args[0],
            num_partitions=int(args[1]),
            replication_factor=1,
            config=key_values(args[2:]),
        )
        try:
            for future in admin.create_topics([topic]).values():
                future.result(timeout=TIMEOUT_S)
        except KafkaException as error:
            return {"code": error.args[0].code(), "message": error.args[0].str()}
        return "ok"
    if action in ("describe", "describe-broker"):
        kind = "topic" if action == "describe" else "broker"
        futures = admin.describe_configs([ConfigResource(kind, args[0])])
        (entries,) = [future.result(timeout=TIMEOUT_S) for future in futures.values()]
        described = {}
        for name, entry in entries.items():
            described[name] = [entry.value, ConfigSource(entry.source).name]
            if kind == "broker":
                described[name].append(entry.is_read_only)
        return described
    if action == "alter":
        entries = []
        for name, value in key_values(args[1:]).items():
            operation = AlterConfigOpType.SET if value else AlterConfigOpType.DELETE
            entries.append(
                ConfigEntry(name, value or None, incremental_operation=operation)
            )
        resource = ConfigResource("topic", args[0], incremental_configs=entries)
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(timeout=TIMEOUT_S)
        return "ok"
    if action == "cluster":
        cluster = admin.describe_cluster(request_timeout=TIMEOUT_S).result()
        return {
            "cluster_id": cluster.cluster_id,
            "controller_id": cluster.controller.id,
            "brokers": [[n.id, n.host, n.port, n.rack] for n in cluster.nodes],
        }
    raise SystemExit(f"unknown action {action}")


def kafka_python_admin(bootstrap, action, args):
    from kafka import KafkaAdminClient
    from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType, NewTopic
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        if action == "create-with":
            topic = NewTopic(
                args[0],
                num_partitions=int(args[1]),
                replication_factor=1,
                topic_configs=key_values(args[2:]),
            )
            try:
                admin.create_topics([topic])
            except KafkaError as error:
                return {"code": error.errno, "message": str(error)}
            return "ok"
        if action in ("describe", "describe-broker"):
            kind = ConfigResourceType.TOPIC if action == "describe" else ConfigResourceType.BROKER
            (entries,) = admin.describe_configs(
                [ConfigResource(kind, args[0])], config_filter="all"
            ).values()
            described = {}
            for name, entry in entries[args[0]].items():
                described[name] = [entry["value"], entry["config_source"]]
                if kind == ConfigResourceType.BROKER:
                    described[name].append(entry["read_only"])
            return described
        if action == "alter":
            configs = {
                name: value if value else (AlterConfigOp.DELETE, None)
                for name, value in key_values(args[1:]).items()
            }
            resource = ConfigResource(ConfigResourceType.TOPIC, args[0], configs)
            result = admin.alter_configs([resource])
            if result["topic"][args[0]] != "OK":
                raise RuntimeError(f"alter {args[0]}: {result}")
            return "ok"
        if action == "cluster":
            cluster = admin.describe_cluster()
            return {
                "cluster_id": cluster["cluster_id"],
                "controller_id": cluster["controller_id"],
                "brokers": [
                    [b["broker_id"], b["host"], b["port"], b["rack"]]
                    for b in cluster["brokers"]
                ],
            }
        raise SystemExit(f"unknown action {action}")
    finally:
        admin.close()


ADMIN_ACTIONS = ("create-with", "describe", "describe-broker", "alter", "cluster")


def confluent(bootstrap, action, args):
    from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
    from confluent_kafka.admin import AdminClient, NewTopic

    if action in ADMIN_ACTIONS:
        return confluent_admin(bootstrap, action, args)
    if action == "watermarks":
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fjord-test-unused"})
        low, high = consumer.get_watermark_offsets(
            TopicPartition(args[0], 0), timeout=TIMEOUT_S
        )
        consumer.close()
        return [low, high]
    if action == "produce-each":
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
        for i in range(int(args[1])):
            producer.produce(args[0], value=f"value-{i}")
            if producer.flush(TIMEOUT_S) != 0:
                raise RuntimeError("undelivered")
        return "ok"

    if action in ("groups", "delete-group"):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        if action == "groups":
            listed = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result()
            return sorted(group.group_id for group in listed.valid)
        for future in admin.delete_consumer_groups([args[0]]).values():
            future.result(timeout=TIMEOUT_S)
        return "ok"
    if action in ("create", "delete", "topics"):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        if action == "create":
            futures = admin.create_topics(
                [NewTopic(args[0], num_partitions=int(args[1]), replication_factor=1)]
            )
        elif action == "delete":
            futures = admin.delete_topics([args[0]])
        else:
            return sorted(admin.list_topics(timeout=TIMEOUT_S).topics)
        for future in futures.values():
            future.result(timeout=TIMEOUT_S)
        return "ok"
    topic, count = args[0], int(args[1])
    if action == "produce":
        producer = Producer(
            # gzip: kafka-python reads it without extra codec packages.
            {"bootstrap.servers": bootstrap, "acks": "all", "compression.type": "gzip"}
        )
        errors = []

        def delivered(error, _message):
            if error is not None:
                errors.append(str(error))

        for i in range(count):
            producer.produce(
                topic,
                key=f"k{i}",
                value=f"value-{i}",
                headers=[("source", b"confluent")],
                on_delivery=delivered,
            )
        if producer.flush(TIMEOUT_S) != 0 or errors:
            raise RuntimeError(f"undelivered: {errors}")
        return "ok"
    if action == "consume":
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "fjord-test-unused",
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        records = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(records) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                raise RuntimeError(str(message.error()))
            records.append(
                [
                    message.offset(),
                    message.key().decode(),
                    message.value().decode(),
                    [[k, v.decode()] for k, v in message.headers() or []],
                ]
            )
        consumer.close()
        return records
    if action == "group-consume":
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": args[2],
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        values = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise RuntimeError(str(message.error()))
            values.append(message.value().decode())
        consumer.commit(asynchronous=False)
        consumer.close()
        return values
    raise SystemExit(f"unknown action {action}")


def kafka_python(bootstrap, action, args):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    if action in ADMIN_ACTIONS:
        return kafka_python_admin(bootstrap, action, args)
    if action == "watermarks":
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        partition = TopicPartition(args[0], 0)
        low = consumer.beginning_offsets([partition])[partition]
        high = consumer.end_offsets([partition])[partition]
        consumer.close()
        return [low, high]
    if action in ("groups", "delete-group"):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        if action == "groups":
            result = sorted(group["group_id"] for group in admin.list_groups())
        else:
            for group_id, error in dict(admin.delete_groups([args[0]])).items():
                if getattr(error, "errno", 0):
                    raise RuntimeError(f"delete {group_id}: {error}")
            result = "ok"
        admin.close()
        return result
    if action in ("create", "delete", "topics"):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        if action == "create":
            admin.create_topics(
                [NewTopic(args[0], num_partitions=int(args[1]), replication_factor=1)]
            )
        elif action == "delete":
            admin.delete_topics([args[0]])
        else:
            return sorted(admin.list_topics())
        admin.close()
        return "ok"
    topic, count = args[0], int(args[1])
    if action == "produce":
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            # Idempotence needs InitProducerId, which the broker does not serve yet.
            enable_idempotence=False,
            compression_type="gzip",
        )
        futures = [
            producer.send(
                topic,
                key=f"k{i}".encode(),
                value=f"value-{i}".encode(),
                headers=[("source", b"kafka-python")],
            )
            for i in range(count)
        ]
        for future in futures:
            future.get(timeout=TIMEOUT_S)
        producer.close()
        return "ok"
    if action == "consume":
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        records = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(records) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                for message in batch:
                    records.append(
                        [
                            message.offset,
                            message.key.decode(),
                            message.value.decode(),
                            [[k, v.decode()] for k, v in message.headers],
                        ]
                    )
        consumer.close()
        return records
    if action == "group-consume":
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=args[2],
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        values = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(values) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                values.extend(message.value.decode() for message in batch)
        consumer.commit()
        consumer.close()
        return values
    raise SystemExit(f"unknown action {action}")


def main():
    client, bootstrap, action, *args = sys.argv[1:]
    run = {"confluent": confluent, "kafka-python": kafka_python}[client]
    print(json.dumps(run(bootstrap, action, args)))


if __name__ == "__main__":
    main()
