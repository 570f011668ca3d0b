-- A Kafka message rejected once is stored once. When a batch fails after its bad messages were
-- dead-lettered, the batch is read again and the same messages are dead-lettered again, at new offsets
-- of the deadletter topic, so dead_letters_kafka_uq (the deadletter topic's own coordinates) let both
-- in and the counts operators see doubled. The original message's coordinates are in context
-- (original_topic, partition, offset: ingest/decode.py, ingest/snapshots.py, ingest/store.py), so they
-- key a second unique index; ON CONFLICT DO NOTHING (no target) in DEAD_LETTER_INSERT covers both.
-- The reason is in the key: the same message refused for another reason is another rejection. It is
-- keyed by its md5, as a reason may be long (a PostgreSQL error quoting a value) and a btree entry
-- above ~2.7 kB would make the insert fail. MQTT and API letters carry no offset and are unaffected.
-- dead_letters is not a hypertable (0002), so the index need not hold a time column.

-- The duplicates stored already go, the earliest (lowest id) of each rejection stays. Plain = as in
-- the index: a JSON null coordinate matches nothing, just as the index lets such rows in.
DELETE FROM dead_letters d
 WHERE d.context ? 'offset' AND d.context ? 'original_topic'
   AND EXISTS (
       SELECT 1 FROM dead_letters e
        WHERE e.id < d.id
          AND e.context ? 'offset' AND e.context ? 'original_topic'
          AND e.context->>'original_topic' = d.context->>'original_topic'
          AND e.context->>'partition' = d.context->>'partition'
          AND e.context->>'offset' = d.context->>'offset'
          AND e.reason = d.reason);

CREATE UNIQUE INDEX dead_letters_original_uq
    ON dead_letters ((context->>'original_topic'), (context->>'partition'), (context->>'offset'), md5(reason))
    WHERE context ? 'offset' AND context ? 'original_topic';
