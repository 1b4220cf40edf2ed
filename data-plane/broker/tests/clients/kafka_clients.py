"""Drives a Python Kafka client against the broker for the Rust tests.

usage: kafka_clients.py CLIENT BOOTSTRAP ACTION [ARGS...]
  CLIENT   confluent | kafka-python
  ACTION   create TOPIC PARTITIONS | delete TOPIC | topics
           produce TOPIC COUNT     | consume TOPIC COUNT
           group-consume TOPIC COUNT GROUP  (subscribe, read COUNT values, commit)
           groups | delete-group GROUP
           produce-keyed TOPIC COUNT [FIRST [PAUSE]]  (idempotent; values
                    FIRST..FIRST+COUNT-1; PAUSE seconds after every 50)
           group-churn TOPIC COUNT GROUP  (3 members consume while COUNT are
                                           produced; one leaves, one joins)
           consume-partitions TOPIC PARTITIONS COUNT  (values per partition)
           create-with TOPIC PARTITIONS KEY=VALUE...  (prints "ok" or {code, message})
           describe TOPIC            ({name: [value, source]} of every config)
           describe-broker ID        ({name: [value, source, read_only]})
           alter TOPIC KEY=VALUE...  (incremental; KEY= deletes the override)
           cluster                   ({cluster_id, controller_id, brokers})
           watermarks TOPIC          ([low, high] of partition 0)
           produce-each TOPIC COUNT  (one request, so one batch, per record)
           produce-steady TOPIC RATE STOP_FILE  (idempotent, acks=all, metadata
                    refreshed every 100 ms; values 0.. at RATE/s until STOP_FILE
                    exists, then flush: {acked, failed, failures, client_errors})

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
    if action == "create-replicated":
        topic = NewTopic(
            args[0], num_partitions=int(args[1]), replication_factor=int(args[2])
        )
        try:
            for future in admin.create_topics([topic]).values():
                future.result(timeout=TIMEOUT_S)
        except KafkaException as error:
            return {"code": error.args[0].code(), "message": error.args[0].str()}
        return "ok"
    if action == "partitions":
        # Leader, replicas and in-sync replicas per partition, from Metadata.
        metadata = admin.list_topics(args[0], timeout=TIMEOUT_S)
        topic = metadata.topics[args[0]]
        if topic.error is not None:
            return {"error": topic.error.code()}
        return {
            str(p.id): {
                "leader": p.leader,
                "preferred": p.replicas[0] if p.replicas else -1,
                "replicas": sorted(p.replicas),
                "isr": sorted(p.isrs),
            }
            for p in topic.partitions.values()
        }
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


ADMIN_ACTIONS = (
    "create-with",
    "create-replicated",
    "describe",
    "describe-broker",
    "alter",
    "cluster",
    "partitions",
)


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
    if action == "produce-keyed":
        first = int(args[2]) if len(args) > 2 else 0
        pace = float(args[3]) if len(args) > 3 else None
        return confluent_produce_keyed(bootstrap, args[0], int(args[1]), first, pace)
    if action == "group-churn":
        return confluent_group_churn(bootstrap, args[0], int(args[1]), args[2])
    if action == "produce-steady":
        return confluent_produce_steady(bootstrap, args[0], float(args[1]), args[2])
    if action == "consume-partitions":
        return confluent_consume_partitions(bootstrap, args[0], int(args[1]), int(args[2]))
    topic, count = args[0], int(args[1])
    if action == "produce":
        producer = Producer(
            # gzip: kafka-python reads it without extra codec packages.
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "compression.type": "gzip",
                "enable.idempotence": True,
            }
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


def confluent_produce_keyed(bootstrap, topic, count, first=0, pace=None):
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            # Small batches: many Produce requests, so many chances to retry.
            "linger.ms": 1,
            "batch.num.messages": 20,
            "message.timeout.ms": 120000,
            "reconnect.backoff.ms": 10,
            "reconnect.backoff.max.ms": 100,
        }
    )
    errors = []

    def delivered(error, _message):
        if error is not None:
            errors.append(str(error))

    for i in range(first, first + count):
        producer.produce(topic, key=f"key-{i % 97}", value=str(i), on_delivery=delivered)
        producer.poll(0)
        if pace is not None and i % 50 == 49:
            time.sleep(pace)
    if producer.flush(150) != 0 or errors:
        raise RuntimeError(f"undelivered: {errors[:5]} ({len(errors)} errors)")
    return "ok"


def confluent_produce_steady(bootstrap, topic, rate, stop_file):
    """A producer as an application runs one: librdkafka's defaults but
    idempotence, a steady rate, and every delivery report and client error
    kept. `failed` counts records librdkafka gave up on."""
    import os

    from confluent_kafka import Producer

    client_errors = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # Refresh metadata often (the default is every 5 minutes, and on
            # errors), so some refresh lands on a broker that just restarted.
            "topic.metadata.refresh.interval.ms": 100,
            # librdkafka ignores "unknown topic" answers for this long after
            # it first meets a topic (default 30 s), then believes them and
            # fails the topic's queued records: behave as a producer that
            # has run longer than that.
            "topic.metadata.propagation.max.ms": 1000,
            "error_cb": lambda error: client_errors.append(str(error)),
        }
    )
    acked = []
    failures = []

    def delivered(error, message):
        if error is None:
            acked.append(int(message.value()))
        else:
            failures.append(str(error))

    started = time.monotonic()
    sent = 0
    while not os.path.exists(stop_file):
        due = int((time.monotonic() - started) * rate)
        while sent < due:
            try:
                producer.produce(topic, value=str(sent), on_delivery=delivered)
            except Exception as error:  # a refused produce() is a failure too
                failures.append(f"produce: {error}")
            sent += 1
        producer.poll(0.01)
    remaining = producer.flush(120)
    return {
        "sent": sent,
        "acked": acked,
        "failed": len(failures) + remaining,
        "failures": failures[:10],
        "client_errors": client_errors,
    }


def confluent_consume_partitions(bootstrap, topic, partitions, count):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "fjord-test-unused",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    values = {str(p): [] for p in range(partitions)}
    seen = 0
    deadline = time.monotonic() + 60
    # Reads until COUNT values, then a little longer to catch any extra copy.
    quiet_until = None
    while time.monotonic() < deadline:
        if seen >= count:
            quiet_until = quiet_until or time.monotonic() + 1.0
            if time.monotonic() > quiet_until:
                break
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error():
            raise RuntimeError(str(message.error()))
        values[str(message.partition())].append(int(message.value()))
        seen += 1
    consumer.close()
    return values


def confluent_group_churn(bootstrap, topic, count, group):
    """Members a, b, c consume with manual commits (every 50 messages and
    on revoke) while COUNT values are produced in thirds; c leaves during
    the first third, d joins during the second. Returns every value
    consumed, in order, and how many each member took."""
    import threading

    from confluent_kafka import Consumer, KafkaException, TopicPartition

    lock = threading.Lock()
    consumed = []
    taken = {}
    assigned = {}  # member -> partitions it holds now
    errors = []

    def member(name, stop):
        processed = {}  # partition -> next offset to commit
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 500,
                "partition.assignment.strategy": "range",
            }
        )

        def commit(partitions):
            offsets = [TopicPartition(topic, p, processed[p]) for p in partitions if p in processed]
            if offsets:
                consumer.commit(offsets=offsets, asynchronous=False)

        def on_assign(_consumer, partitions):
            with lock:
                assigned[name] = sorted(p.partition for p in partitions)

        def on_revoke(_consumer, partitions):
            with lock:
                assigned[name] = []
            # Must succeed: the next owner starts from what is committed here.
            try:
                commit([p.partition for p in partitions])
            except KafkaException as error:
                errors.append(f"{name}: commit on revoke: {error}")
            for p in partitions:
                processed.pop(p.partition, None)

        try:
            consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
            since_commit = 0
            while not stop.is_set():
                message = consumer.poll(0.1)
                if message is None:
                    continue
                if message.error():
                    raise RuntimeError(str(message.error()))
                with lock:
                    consumed.append(int(message.value()))
                    taken[name] = taken.get(name, 0) + 1
                processed[message.partition()] = message.offset() + 1
                since_commit += 1
                if since_commit >= 50:
                    since_commit = 0
                    try:
                        commit(list(processed))
                    except KafkaException:
                        pass  # a rebalance is under way; on_revoke commits
            commit(list(processed))
            consumer.close()
        except Exception as error:  # reported to the test, not swallowed
            errors.append(f"{name}: {error!r}")

    def start(name):
        stop = threading.Event()
        thread = threading.Thread(target=member, args=(name, stop))
        thread.start()
        return thread, stop

    def wait_for(condition, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not errors:
            with lock:
                if condition():
                    return
            time.sleep(0.05)
        if not errors:
            errors.append(f"timed out waiting; consumed {len(consumed)}, assigned {assigned}")

    def produce(first, last):
        def run():
            try:
                confluent_produce_keyed(bootstrap, topic, last - first, first, pace=0.05)
            except Exception as error:
                errors.append(f"producer: {error!r}")

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    third = count // 3
    members = {name: start(name) for name in ("a", "b", "c")}
    wait_for(lambda: all(assigned.get(name) for name in members), 60)
    # c leaves while the first third is being produced and consumed.
    producer = produce(0, third)
    wait_for(lambda: len(consumed) >= third // 2, 60)
    thread, stop = members.pop("c")
    stop.set()
    thread.join()
    producer.join()
    # d joins while the second third is produced.
    producer = produce(third, 2 * third)
    members["d"] = start("d")
    wait_for(lambda: assigned.get("d"), 60)
    producer.join()
    producer = produce(2 * third, count)
    producer.join()
    wait_for(lambda: len(consumed) >= count, 60)
    time.sleep(2)  # let any duplicate delivery show up
    for thread, stop in members.values():
        stop.set()
    for thread, _ in members.values():
        thread.join()
    if errors:
        raise RuntimeError(f"member errors: {errors}")
    return {"consumed": consumed, "taken": taken}


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
