"""Drives a Python Kafka client against the broker for the Rust tests.

usage: kafka_clients.py CLIENT BOOTSTRAP ACTION [ARGS...]
  CLIENT   confluent | kafka-python
  ACTION   create TOPIC PARTITIONS | delete TOPIC | topics
           produce TOPIC COUNT     | consume TOPIC COUNT
           group-consume TOPIC COUNT GROUP  (subscribe, read COUNT values, commit)
           groups | delete-group GROUP
           produce-keyed TOPIC COUNT  (idempotent; values are 0..COUNT-1)
           consume-partitions TOPIC PARTITIONS COUNT  (values per partition)

Prints one JSON document on stdout; exits non-zero on any failure.
"""

import json
import sys
import time

TIMEOUT_S = 20


def confluent(bootstrap, action, args):
    from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
    from confluent_kafka.admin import AdminClient, NewTopic

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
        return confluent_produce_keyed(bootstrap, args[0], int(args[1]))
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


def confluent_produce_keyed(bootstrap, topic, count):
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

    for i in range(count):
        producer.produce(topic, key=f"key-{i % 97}", value=str(i), on_delivery=delivered)
        producer.poll(0)
    if producer.flush(150) != 0 or errors:
        raise RuntimeError(f"undelivered: {errors[:5]} ({len(errors)} errors)")
    return "ok"


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


def kafka_python(bootstrap, action, args):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

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
