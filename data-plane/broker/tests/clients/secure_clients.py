"""Drives a Python Kafka client over a secured listener for the Rust tests.

usage: secure_clients.py CLIENT BOOTSTRAP SECURITY_JSON ACTION [ARGS...]
  CLIENT         confluent | kafka-python
  SECURITY_JSON  {"protocol": "SSL", "ca": PATH, "cert": PATH, "key": PATH,
                  "mechanism": "SCRAM-SHA-256", "user": U, "password": P}
                 (every key but "protocol" optional)
  ACTION         produce TOPIC COUNT   (acks=all; values value-0..)
                 consume TOPIC COUNT   (from the beginning; prints the values)
                 produce-slowly TOPIC COUNT PAUSE  (confluent; one producer, a
                                       record every PAUSE seconds, each delivered)
                 alter-user USER MECHANISM PASSWORD  (confluent; "ok")
                 delete-user USER MECHANISM          (confluent; "ok")
                 describe-users        ({user: [[mechanism, iterations]]})
                 brokers               (confluent; {id: "host:port"} as Metadata
                                       lists them)
                 consume-group TOPIC COUNT GROUP  (confluent; as consume, in GROUP)
                 create-acls ACLS_JSON (kafka-python; [[type, name, pattern,
                                       principal, operation, permission]];
                                       host "*"; "ok")
                 describe-acls         (kafka-python; every binding, sorted)
                 delete-acls PRINCIPAL (kafka-python; the bindings removed)
                 create-topic TOPIC    (kafka-python; "ok")
                 list-topics           (kafka-python; sorted topic names)

Prints one JSON document on stdout. A refused connection or failed request
exits 2 and prints {"error": TEXT} so tests can assert on the refusal.
"""

import json
import os
import sys
import time

TIMEOUT_S = 20


def confluent_config(bootstrap, security):
    config = {
        "bootstrap.servers": bootstrap,
        "security.protocol": security["protocol"],
        # Fail fast when the broker refuses us, instead of retrying forever.
        "reconnect.backoff.max.ms": 1000,
    }
    if "ca" in security:
        config["ssl.ca.location"] = security["ca"]
    if "cert" in security:
        config["ssl.certificate.location"] = security["cert"]
        config["ssl.key.location"] = security["key"]
    if "mechanism" in security:
        config["sasl.mechanism"] = security["mechanism"]
        config["sasl.username"] = security["user"]
        config["sasl.password"] = security["password"]
    return config


def confluent_users(bootstrap, security, action, args):
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialDeletion,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient(confluent_config(bootstrap, security))
    if action == "describe-users":
        described = admin.describe_user_scram_credentials().result(timeout=TIMEOUT_S)
        return {
            user: sorted(
                [info.mechanism.name.replace("_", "-"), info.iterations]
                for info in description.scram_credential_infos
            )
            for user, description in described.items()
        }
    mechanism = ScramMechanism[args[1].replace("-", "_")]
    if action == "alter-user":
        change = UserScramCredentialUpsertion(
            args[0], ScramCredentialInfo(mechanism, 4096), args[2].encode()
        )
    else:
        change = UserScramCredentialDeletion(args[0], mechanism)
    for future in admin.alter_user_scram_credentials([change]).values():
        future.result(timeout=TIMEOUT_S)
    return "ok"


def confluent(bootstrap, security, action, args):
    from confluent_kafka import Consumer, KafkaException, Producer

    if action in ("alter-user", "delete-user", "describe-users"):
        return confluent_users(bootstrap, security, action, args)
    if action == "brokers":
        from confluent_kafka.admin import AdminClient

        metadata = AdminClient(confluent_config(bootstrap, security)).list_topics(timeout=TIMEOUT_S)
        return {str(b.id): f"{b.host}:{b.port}" for b in metadata.brokers.values()}
    if action == "produce-slowly":
        producer = Producer(dict(confluent_config(bootstrap, security), acks="all"))
        for i in range(int(args[1])):
            producer.produce(args[0], value=f"value-{i}")
            if producer.flush(TIMEOUT_S) != 0:
                raise RuntimeError(f"record {i} undelivered")
            time.sleep(float(args[2]))
        return "ok"
    topic, count = args[0], int(args[1])
    group = args[2] if action == "consume-group" else f"secure-{topic}"
    config = confluent_config(bootstrap, security)
    errors = []
    config["error_cb"] = lambda error: errors.append(error.str())
    if action == "produce":
        producer = Producer(dict(config, **{"acks": "all", "message.timeout.ms": TIMEOUT_S * 1000}))
        failed = []
        for i in range(count):
            producer.produce(
                topic,
                value=f"value-{i}",
                on_delivery=lambda error, _m: error and failed.append(error.str()),
            )
        deadline = time.monotonic() + TIMEOUT_S
        while len(producer) > 0 and time.monotonic() < deadline:
            producer.flush(0.5)
            if any("Authentication" in error for error in errors):
                raise RuntimeError("; ".join(errors))
        if failed or len(producer) > 0:
            raise RuntimeError(f"undelivered: {failed} {errors}")
        return "ok"
    consumer = Consumer(
        dict(config, **{"group.id": group, "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(values) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if errors and not values:
            raise RuntimeError("; ".join(errors))
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        values.append(message.value().decode())
    consumer.close()
    if len(values) < count:
        raise RuntimeError(f"read {len(values)} of {count}: {errors}")
    return values


def kafka_python_config(bootstrap, security):
    config = {"bootstrap_servers": bootstrap, "security_protocol": security["protocol"]}
    if "ca" in security:
        config["ssl_cafile"] = security["ca"]
    if "cert" in security:
        config["ssl_certfile"] = security["cert"]
        config["ssl_keyfile"] = security["key"]
    if "mechanism" in security:
        config["sasl_mechanism"] = security["mechanism"]
        config["sasl_plain_username"] = security["user"]
        config["sasl_plain_password"] = security["password"]
    return config


def acl_row(acl):
    pattern = acl.resource_pattern
    return [
        pattern.resource_type.name,
        pattern.resource_name,
        pattern.pattern_type.name,
        acl.principal,
        acl.host,
        acl.operation.name,
        acl.permission_type.name,
    ]


def kafka_python_acls(admin, action, args):
    from kafka.admin import (
        ACL,
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourcePatternFilter,
        ResourceType,
    )

    def every(principal=None):
        return ACLFilter(
            principal=principal,
            host=None,
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(
                ResourceType.ANY, None, ACLResourcePatternType.ANY
            ),
        )

    if action == "create-acls":
        acls = [
            ACL(
                principal=principal,
                host="*",
                operation=ACLOperation[operation],
                permission_type=ACLPermissionType[permission],
                resource_pattern=ResourcePattern(
                    ResourceType[kind], name, ACLResourcePatternType[pattern]
                ),
            )
            for kind, name, pattern, principal, operation, permission in json.loads(args[0])
        ]
        result = admin.create_acls(acls)
        if result["failed"]:
            raise RuntimeError(f"refused: {[error.__name__ for error in result['failed']]}")
        return "ok"
    if action == "describe-acls":
        acls, error = admin.describe_acls(every())
        if error.errno != 0:
            raise RuntimeError(str(error))
        return sorted(acl_row(acl) for acl in acls)
    results = admin.delete_acls([every(args[0])])
    removed = []
    for _filter, deleted, error in results:
        if error.errno != 0:
            raise RuntimeError(str(error))
        removed.extend(acl_row(acl) for acl in deleted)
    return sorted(removed)


def kafka_python(bootstrap, security, action, args):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    if action in ("create-acls", "describe-acls", "delete-acls", "create-topic", "list-topics"):
        admin = KafkaAdminClient(**kafka_python_config(bootstrap, security))
        if action == "create-topic":
            # Raises the topic's error (raise_errors defaults to True).
            admin.create_topics({args[0]: {"num_partitions": 1, "replication_factor": 1}})
            return "ok"
        if action == "list-topics":
            return sorted(admin.list_topics())
        return kafka_python_acls(admin, action, args)

    if action == "describe-users":
        admin = KafkaAdminClient(**kafka_python_config(bootstrap, security))
        described = admin.describe_user_scram_credentials()
        admin.close()
        return {
            user: sorted(
                [info["mechanism"].name.replace("_", "-"), info["iterations"]]
                for info in description["credential_infos"]
            )
            for user, description in described.items()
        }
    topic, count = args[0], int(args[1])
    config = kafka_python_config(bootstrap, security)
    if action == "produce":
        producer = KafkaProducer(acks="all", **config)
        futures = [producer.send(topic, value=f"value-{i}".encode()) for i in range(count)]
        for future in futures:
            future.get(timeout=TIMEOUT_S)
        producer.close()
        return "ok"
    consumer = KafkaConsumer(
        topic,
        auto_offset_reset="earliest",
        consumer_timeout_ms=TIMEOUT_S * 1000,
        **config,
    )
    values = []
    for message in consumer:
        values.append(message.value.decode())
        if len(values) == count:
            break
    consumer.close()
    if len(values) < count:
        raise RuntimeError(f"read {len(values)} of {count}")
    return values


def main():
    client, bootstrap, security, action, *args = sys.argv[1:]
    security = json.loads(security)
    run = {"confluent": confluent, "kafka-python": kafka_python}[client]
    try:
        result = run(bootstrap, security, action, args)
    except Exception as error:  # noqa: BLE001 - reported to the test as data
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        os._exit(2)
    print(json.dumps(result), flush=True)
    # Skip interpreter teardown: confluent-kafka's admin client has been
    # seen to abort while being destroyed ("free(): invalid size") after it
    # returned its result; the answer is what the test checks.
    os._exit(0)


if __name__ == "__main__":
    main()
