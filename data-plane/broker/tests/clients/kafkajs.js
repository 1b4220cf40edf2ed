// Drives kafkajs (the Node.js client, pinned in package.json) against the
// broker for the Rust tests.
//
// usage: node kafkajs.js BOOTSTRAP ACTION [ARGS...]
//   groups GROUP...   admin.listGroups() and admin.describeGroups(GROUPS):
//                     prints {"listed": [...], "described": {...}}
//   group-run TOPIC GROUP MEMBERS PER_SECOND
//                     an idempotent producer writes values 0, 1, 2, ... at
//                     PER_SECOND until stdin closes, while MEMBERS consumers
//                     of GROUP read them, kafkajs committing after every
//                     record (autoCommitThreshold 1); then it waits until every produced
//                     value was consumed (or 90 s) and stops. Prints one JSON
//                     event per line: ready, consumed {m, p, o, v},
//                     committed {m, p, o}, crash {m, error},
//                     produce_failed, done {produced}.
//
// kafkajs logs go to stderr; stdout carries only JSON.

'use strict';

const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, action, ...args] = process.argv.slice(2);

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const kafka = new Kafka({
  clientId: 'fjord-kafkajs-test',
  brokers: bootstrap.split(','),
  logLevel: logLevel.WARN,
  logCreator: () => ({ namespace, level, log }) => {
    process.stderr.write(`kafkajs ${level} ${namespace}: ${log.message} ${JSON.stringify(log)}\n`);
  },
  retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 30 },
});

async function groups(groupIds) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const listed = await admin.listGroups();
    const described = await admin.describeGroups(groupIds);
    const byId = {};
    for (const group of described.groups) {
      byId[group.groupId] = {
        state: group.state,
        protocolType: group.protocolType,
        members: group.members.map((member) => member.memberId).sort(),
      };
    }
    emit({ listed: listed.groups.map((group) => group.groupId).sort(), described: byId });
  } finally {
    await admin.disconnect();
  }
}

async function member(name, topic, groupId, state) {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10000,
    rebalanceTimeout: 20000,
    heartbeatInterval: 1000,
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 30 },
  });
  consumer.on(consumer.events.CRASH, (event) => {
    emit({ e: 'crash', m: name, error: String(event.payload.error), restart: event.payload.restart });
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    state.assigned[name] = Object.values(event.payload.memberAssignment).flat().length;
  });
  // kafkajs commits in its runner after every message (threshold 1); a
  // commit refused NOT_COORDINATOR makes it rejoin, which finds the new
  // coordinator. Its COMMIT_OFFSETS event says what was committed.
  consumer.on(consumer.events.COMMIT_OFFSETS, (event) => {
    for (const committed of event.payload.topics) {
      for (const { partition, offset } of committed.partitions) {
        emit({ e: 'committed', m: name, p: Number(partition), o: Number(offset) });
      }
    }
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    autoCommitThreshold: 1,
    eachMessage: async ({ partition, message }) => {
      const value = Number(message.value.toString());
      emit({ e: 'consumed', m: name, p: partition, o: Number(message.offset), v: value });
      state.consumed.add(value);
    },
  });
  return consumer;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function groupRun(topic, groupId, members, perSecond) {
  const state = { consumed: new Set(), assigned: {} };
  let produced = 0;
  let stopping = false;
  process.stdin.on('end', () => { stopping = true; });
  process.stdin.resume();

  const consumers = [];
  for (let index = 0; index < members; index += 1) {
    consumers.push(await member(`m${index}`, topic, groupId, state));
  }
  const started = Date.now();
  while (Object.values(state.assigned).length < members && Date.now() - started < 60000) {
    await sleep(100);
  }
  emit({ e: 'ready', assigned: state.assigned });

  const progress = setInterval(() => {
    process.stderr.write(`kafkajs.js ${new Date().toISOString()}: consumed ${state.consumed.size}, produced ${produced}${stopping ? ', production stopped' : ''}\n`);
  }, 5000);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const pause = 1000 / perSecond;
  while (!stopping) {
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: String(produced), value: String(produced) }],
      });
      produced += 1;
    } catch (error) {
      // The same value again: idempotence keeps it once.
      emit({ e: 'produce_failed', v: produced, error: String(error) });
    }
    await sleep(pause);
  }
  await producer.disconnect();

  const deadline = Date.now() + 90000;
  while (state.consumed.size < produced && Date.now() < deadline) {
    await sleep(100);
  }
  await sleep(2000); // let a duplicate delivery show up
  clearInterval(progress);
  await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  emit({ e: 'done', produced });
}

async function main() {
  if (action === 'groups') {
    await groups(args);
  } else if (action === 'group-run') {
    await groupRun(args[0], args[1], Number(args[2]), Number(args[3]));
  } else {
    throw new Error(`unknown action ${action}`);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`kafkajs.js: ${error.stack || error}\n`);
    process.exit(1);
  },
);
