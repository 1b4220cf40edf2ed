"""Kafka clients of a chaos run (confluent-kafka, i.e. librdkafka).

usage: chaos_clients.py ACTION BOOTSTRAP ARGS...
  create BOOTSTRAP TOPIC PARTITIONS REPLICATION     prints "ok"
  produce BOOTSTRAP TOPIC PRODUCER PARTITIONS RATE
      idempotent, acks=all; record values are PRODUCER:INCARNATION:SEQUENCE,
      record SEQUENCE goes to partition SEQUENCE % PARTITIONS, RATE records
      per second; runs until stdin closes, then flushes. Prints one line per
      event: "ack PARTITION OFFSET VALUE", "fail VALUE ERROR",
      "incarnation N REASON" (a fatal error: a new producer takes over),
      "error NAME" (every error the client reports: refused connections,
      all brokers down, fatal errors),
      and "done UNFLUSHED" last. A record produce() refuses is a "fail" too.
  read BOOTSTRAP TOPIC PARTITIONS
      reads every partition from its start to its high watermark; prints
      "rec PARTITION OFFSET VALUE" per record in offset order per partition,
      then "end COUNT".
"""

import os
import sys
import threading
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TIMEOUT_S = 30


def emit(line):
    sys.stdout.write(line + "\n")


def create(bootstrap, topic, partitions, replication):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(topic, num_partitions=int(partitions), replication_factor=int(replication))
    for future in admin.create_topics([new], request_timeout=TIMEOUT_S).values():
        future.result(timeout=TIMEOUT_S)
    emit("ok")


class Producing:
    def __init__(self, bootstrap, producer):
        self.bootstrap = bootstrap
        self.producer_index = producer
        self.incarnation = 0
        self.fatal = None
        self.producer = self.new_producer()

    def new_producer(self):
        return Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "message.timeout.ms": 60000,
                "request.timeout.ms": 10000,
                "retry.backoff.ms": 100,
                "reconnect.backoff.max.ms": 1000,
                # Metadata every 100 ms (the default is 5 minutes, and on
                # errors): a restarted broker is asked early, as an
                # application's clients together would ask it.
                "topic.metadata.refresh.interval.ms": 100,
                # librdkafka ignores "unknown topic" answers for this long
                # after it first meets a topic (default 30 s), then believes
                # them and fails the topic's queued records: behave as a
                # producer that has run longer than that.
                "topic.metadata.propagation.max.ms": 1000,
                "client.id": f"fjord-chaos-{self.producer_index}",
                # Refused connections are the point of the run: log only the
                # critical, unless FJORD_CHAOS_CLIENT_DEBUG names librdkafka
                # debug contexts (e.g. "eos,msg") to see why it retries.
                "log_level": 7 if os.environ.get("FJORD_CHAOS_CLIENT_DEBUG") else 2,
                **(
                    {"debug": os.environ["FJORD_CHAOS_CLIENT_DEBUG"]}
                    if os.environ.get("FJORD_CHAOS_CLIENT_DEBUG")
                    else {}
                ),
                "error_cb": self.on_error,
            }
        )

    def on_error(self, error):
        emit(f"error {error.name()}")
        if error.fatal():
            self.fatal = str(error)

    def on_delivery(self, error, message):
        value = message.value().decode()
        if error is None:
            emit(f"ack {message.partition()} {message.offset()} {value}")
        else:
            emit(f"fail {value} {error.str().replace(' ', '_')}")

    def restart_if_fatal(self):
        if self.fatal is None:
            return
        reason = self.fatal.replace(" ", "_")
        self.producer.purge()
        self.producer.flush(1)
        self.incarnation += 1
        self.fatal = None
        emit(f"incarnation {self.incarnation} {reason}")
        self.producer = self.new_producer()

    def send(self, topic, partition, sequence):
        value = f"{self.producer_index}:{self.incarnation}:{sequence}"
        while True:
            try:
                self.producer.produce(topic, value=value, partition=partition, on_delivery=self.on_delivery)
                return
            except BufferError:
                self.producer.poll(0.05)
            except KafkaException as error:
                if not error.args[0].fatal():
                    # produce() refused the record (e.g. _UNKNOWN_TOPIC after a
                    # broker said the topic does not exist): given up on.
                    emit(f"fail {value} {error.args[0].name()}")
                    return
                # After a fatal error produce() refuses: a new incarnation takes over.
                self.fatal = self.fatal or str(error)
                self.restart_if_fatal()
                value = f"{self.producer_index}:{self.incarnation}:{sequence}"


def produce(bootstrap, topic, producer, partitions, rate):
    partitions, rate = int(partitions), float(rate)
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    producing = Producing(bootstrap, int(producer))
    sequence = 0
    started = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - started) * rate)
        while sequence < due and not stop.is_set():
            producing.send(topic, sequence % partitions, sequence)
            sequence += 1
        producing.producer.poll(0.01)
        producing.restart_if_fatal()
        sys.stdout.flush()
    deadline = time.monotonic() + 90
    while len(producing.producer) > 0 and time.monotonic() < deadline:
        producing.producer.flush(1)
        producing.restart_if_fatal()
        sys.stdout.flush()
    emit(f"done {len(producing.producer)}")
    sys.stdout.flush()


def watermarks(consumer, topic, partitions):
    deadline = time.monotonic() + 60
    while True:
        try:
            return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5) for p in range(partitions)]
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def read(bootstrap, topic, partitions):
    partitions = int(partitions)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "fjord-chaos-check",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
        }
    )
    highs = [high for _, high in watermarks(consumer, topic, partitions)]
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    records = {p: [] for p in range(partitions)}
    next_offset = {p: 0 for p in range(partitions)}
    deadline = time.monotonic() + 120
    while any(next_offset[p] < highs[p] for p in range(partitions)):
        if time.monotonic() > deadline:
            raise SystemExit(f"read stopped short: at {next_offset}, high watermarks {highs}")
        message = consumer.poll(0.2)
        if message is None:
            # A partition may end in a control batch (the marker a new leader
            # writes at the start of its term), which the consumer skips
            # without handing it over: its position, not the last record
            # read, says the partition has been read to the end.
            for position in consumer.position([TopicPartition(topic, p) for p in range(partitions)]):
                next_offset[position.partition] = max(next_offset[position.partition], position.offset)
            continue
        if message.error():
            raise SystemExit(f"read failed: {message.error()}")
        partition, offset = message.partition(), message.offset()
        if offset < highs[partition]:
            records[partition].append((offset, message.value().decode()))
        next_offset[partition] = max(next_offset[partition], offset + 1)
    consumer.close()
    count = 0
    for partition in range(partitions):
        for offset, value in records[partition]:
            emit(f"rec {partition} {offset} {value}")
            count += 1
    emit(f"end {count}")


def main():
    action, bootstrap, *args = sys.argv[1:]
    actions = {"create": create, "produce": produce, "read": read}
    if action not in actions:
        raise SystemExit(f"unknown action {action}")
    actions[action](bootstrap, *args)


if __name__ == "__main__":
    main()
