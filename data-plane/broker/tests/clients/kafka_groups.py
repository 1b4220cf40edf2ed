"""Consumer groups across a cluster, driven from Python clients for the Rust
tests (tests/cluster_groups.rs).

usage: kafka_groups.py CLIENT BOOTSTRAP ACTION [ARGS...]
  CLIENT   confluent | kafka-python | aiokafka
  ACTION   groups GROUP...      list every group and describe GROUPs:
                                {"listed": [...], "described": {id: {state, members}}}
           coordinator GROUP    (confluent) the coordinating broker's id
           group-run TOPIC GROUP MEMBERS PER_SECOND
                                (confluent, aiokafka) an idempotent producer writes 0, 1,
                                2, ... at PER_SECOND until stdin closes while
                                MEMBERS consumers of GROUP read them, committing
                                each record's offset before the next; then waits
                                until every value was consumed (90 s at most).
                                Prints JSON events, one per line, as kafkajs.js.

Prints JSON on stdout; exits non-zero on any failure.
"""

import json
import sys
import threading
import time

TIMEOUT_S = 20
EMIT = threading.Lock()


def emit(event):
    with EMIT:
        print(json.dumps(event), flush=True)


def confluent_groups(bootstrap, group_ids):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result()
    if listed.errors:
        raise RuntimeError(f"list_consumer_groups errors: {listed.errors}")
    described = {}
    for group_id, future in admin.describe_consumer_groups(
        group_ids, request_timeout=TIMEOUT_S
    ).items():
        group = future.result()
        described[group_id] = {
            "state": group.state.name,
            "members": sorted(member.member_id for member in group.members),
            "coordinator": group.coordinator.id,
        }
    return {"listed": sorted(group.group_id for group in listed.valid), "described": described}


def kafka_python_groups(bootstrap, group_ids):
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        listed = sorted(group["group_id"] for group in admin.list_groups())
        described = {}
        for group_id, group in admin.describe_groups(group_ids).items():
            described[group_id] = {
                "state": group["group_state"],
                "members": sorted(member["member_id"] for member in group["members"]),
            }
        return {"listed": listed, "described": described}
    finally:
        admin.close()


def aiokafka_groups(bootstrap, group_ids):
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
        await admin.start()
        try:
            listed = sorted(group[0] for group in await admin.list_consumer_groups())
            described = {}
            for response in await admin.describe_consumer_groups(group_ids):
                for group in response.groups:
                    error_code, group_id, state, members = group[0], group[1], group[2], group[5]
                    if error_code:
                        raise RuntimeError(f"describe {group_id}: error {error_code}")
                    described[group_id] = {
                        "state": state,
                        "members": sorted(member[0] for member in members),
                    }
            return {"listed": listed, "described": described}
        finally:
            await admin.close()

    return asyncio.run(run())


def confluent_coordinator(bootstrap, group_id):
    return confluent_groups(bootstrap, [group_id])["described"][group_id]["coordinator"]


def confluent_group_run(bootstrap, topic, group, members, per_second):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    consumed = set()
    assigned = {}
    stop = threading.Event()

    def member(name):
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 1000,
            }
        )

        def on_assign(_consumer, partitions):
            assigned[name] = len(partitions)

        try:
            consumer.subscribe([topic], on_assign=on_assign)
            while not stop.is_set():
                message = consumer.poll(0.1)
                if message is None:
                    continue
                if message.error():
                    if message.error().fatal():
                        raise KafkaException(message.error())
                    emit({"e": "error", "m": name, "error": str(message.error())})
                    continue
                partition, offset = message.partition(), message.offset()
                value = int(message.value())
                emit({"e": "consumed", "m": name, "p": partition, "o": offset, "v": value})
                consumed.add(value)
                try:
                    consumer.commit(
                        offsets=[TopicPartition(topic, partition, offset + 1)], asynchronous=False
                    )
                    emit({"e": "committed", "m": name, "p": partition, "o": offset + 1})
                except KafkaException as error:
                    emit({"e": "commit_failed", "m": name, "p": partition, "o": offset + 1,
                          "error": str(error)})
            consumer.close()
        except Exception as error:  # a crashed member, reported to the test
            emit({"e": "crash", "m": name, "error": repr(error)})

    threads = [threading.Thread(target=member, args=(f"m{i}",)) for i in range(members)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(assigned) < members and time.monotonic() < deadline:
        time.sleep(0.1)
    emit({"e": "ready", "assigned": assigned})

    stdin_closed = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stdin_closed.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0}
    )
    failures = []

    def delivered(error, message):
        if error is not None:
            failures.append(int(message.value()))
            emit({"e": "produce_failed", "v": int(message.value()), "error": str(error)})

    produced = 0
    while not stdin_closed.is_set():
        producer.produce(topic, key=str(produced), value=str(produced), on_delivery=delivered)
        producer.poll(0)
        produced += 1
        time.sleep(1 / per_second)
    if producer.flush(60) != 0:
        raise RuntimeError("records left undelivered")
    expected = produced - len(failures)
    deadline = time.monotonic() + 90
    while len(consumed) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # let a duplicate delivery show up
    stop.set()
    for thread in threads:
        thread.join()
    emit({"e": "done", "produced": produced, "undelivered": sorted(failures)})


def aiokafka_group_run(bootstrap, topic, group, members, per_second):
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.errors import KafkaError

    async def run():
        consumed = set()
        assigned = {}
        stop = asyncio.Event()

        async def member(name):
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=bootstrap,
                group_id=group,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                session_timeout_ms=10000,
                heartbeat_interval_ms=1000,
            )
            try:
                await consumer.start()
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=100)
                    assigned[name] = len(consumer.assignment())
                    for partition, messages in batches.items():
                        for message in messages:
                            value = int(message.value)
                            emit({"e": "consumed", "m": name, "p": partition.partition,
                                  "o": message.offset, "v": value})
                            consumed.add(value)
                            next_offset = message.offset + 1
                            try:
                                await consumer.commit(
                                    {TopicPartition(topic, partition.partition): next_offset}
                                )
                                emit({"e": "committed", "m": name, "p": partition.partition,
                                      "o": next_offset})
                            except KafkaError as error:
                                emit({"e": "commit_failed", "m": name, "p": partition.partition,
                                      "o": next_offset, "error": repr(error)})
                await consumer.stop()
            except Exception as error:  # a crashed member, reported to the test
                emit({"e": "crash", "m": name, "error": repr(error)})

        tasks = [asyncio.create_task(member(f"m{i}")) for i in range(members)]
        deadline = time.monotonic() + 60
        while sum(1 for n in assigned.values() if n) < members and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        emit({"e": "ready", "assigned": assigned})

        loop = asyncio.get_running_loop()
        stdin_closed = asyncio.Event()
        threading.Thread(
            target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stdin_closed.set)),
            daemon=True,
        ).start()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        await producer.start()
        produced = 0
        while not stdin_closed.is_set():
            try:
                await producer.send_and_wait(
                    topic, key=str(produced).encode(), value=str(produced).encode()
                )
                produced += 1
            except KafkaError as error:
                # The same value again: a retry of a failed send.
                emit({"e": "produce_failed", "v": produced, "error": repr(error)})
            await asyncio.sleep(1 / per_second)
        await producer.stop()
        deadline = time.monotonic() + 90
        while len(consumed) < produced and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # let a duplicate delivery show up
        stop.set()
        await asyncio.gather(*tasks)
        emit({"e": "done", "produced": produced})

    asyncio.run(run())


def main():
    client, bootstrap, action, *args = sys.argv[1:]
    if action == "groups":
        run = {
            "confluent": confluent_groups,
            "kafka-python": kafka_python_groups,
            "aiokafka": aiokafka_groups,
        }[client]
        print(json.dumps(run(bootstrap, args)))
    elif action == "coordinator" and client == "confluent":
        print(json.dumps(confluent_coordinator(bootstrap, args[0])))
    elif action == "group-run" and client in ("confluent", "aiokafka"):
        run = {"confluent": confluent_group_run, "aiokafka": aiokafka_group_run}[client]
        run(bootstrap, args[0], args[1], int(args[2]), float(args[3]))
    else:
        raise SystemExit(f"unknown action {action} for {client}")


if __name__ == "__main__":
    main()
